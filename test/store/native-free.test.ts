import { openNativeFreeStore } from '../../src/store/native-free.js'
import { runStorageConformance } from './conformance.js'

runStorageConformance({
  name: 'native-free',
  open: async (dir) => await openNativeFreeStore(dir)
})
