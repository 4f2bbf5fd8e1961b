/** Placeholder until the engine lands (issue 3). */
export const ENGINE = 'native-free-index'
