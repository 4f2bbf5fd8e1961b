#!/usr/bin/env node
/**
 * Builds src/addresses/table/vn-admin-2025.json, the administrative-units
 * table the address library loads, from the third-party mapping in
 * ../shared/data/vn-admin-2025/new_to_old.json (tanthuan031/vnadministrative,
 * MIT; its LICENSE is copied beside the table). Deterministic: the same input
 * gives the same bytes.
 *
 *   node scripts/build-admin-units.mjs [SOURCE_DIR]
 *
 * Output (names NFC, unit types in official capitalisation, "Thành phố" not
 * "Thành Phố"):
 *   provinces:    the 34 provinces of 1 July 2025, by index
 *   wards:        [province index, name] of every new commune/ward/special zone
 *   oldProvinces: [name, new province index, [[district, [[ward, [new ward indexes]]]]]]
 *                 the 63 provinces before, each old ward with the new wards it went to
 *                 (several when it was split)
 * It refuses input that breaks what the library relies on: an old ward in two
 * provinces, a new ward name twice in a province, an old ward whose new wards
 * lie outside its province's successor.
 */
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const sourceDir = resolve(process.argv[2] ?? join(root, '..', 'shared', 'data', 'vn-admin-2025'))
const outDir = join(root, 'src', 'addresses', 'table')
const source = JSON.parse(readFileSync(join(sourceDir, 'new_to_old.json'), 'utf8'))

/** "Thành Phố Hà Nội" → "Thành phố Hà Nội": the dataset capitalises the second word of two-word unit types. */
function tidy (name) {
  return name.normalize('NFC').trim().replace(/\s+/g, ' ')
    .replace(/^(Thành|Thị|Đặc) (Phố|Trấn|Xã|Khu) /u, (_, a, b) => `${a} ${b.toLowerCase()} `)
}
const byName = (a, b) => (a < b ? -1 : a > b ? 1 : 0)
const fail = (msg) => { console.error(msg); process.exit(1) }

const provinceIds = Object.keys(source.provinces).sort((a, b) => byName(tidy(source.provinces[a].new_province_name), tidy(source.provinces[b].new_province_name)))
const provinceIndex = new Map(provinceIds.map((id, i) => [id, i]))
const provinces = provinceIds.map((id) => tidy(source.provinces[id].new_province_name))

const wardIds = Object.keys(source.wards).sort((a, b) => {
  const x = source.wards[a]; const y = source.wards[b]
  return (provinceIndex.get(x.new_province_id) - provinceIndex.get(y.new_province_id)) || byName(tidy(x.new_ward_name), tidy(y.new_ward_name))
})
const wardIndex = new Map(wardIds.map((id, i) => [id, i]))
const wards = wardIds.map((id) => {
  if (!/^(Phường|Xã|Đặc khu) /u.test(tidy(source.wards[id].new_ward_name))) fail(`new ward ${source.wards[id].new_ward_name} has no ward type`)
  const w = source.wards[id]
  const p = provinceIndex.get(w.new_province_id)
  if (p === undefined) fail(`ward ${id} names an unknown province ${w.new_province_id}`)
  return [p, tidy(w.new_ward_name)]
})
const seenNew = new Set()
for (const [p, name] of wards) {
  const key = `${p}|${name.toLowerCase()}`
  if (seenNew.has(key)) fail(`new ward ${name} twice in ${provinces[p]}`)
  seenNew.add(key)
}

// Old province name → its new province (from the provinces section).
const oldProvinceTo = new Map()
for (const id of provinceIds) {
  for (const o of source.provinces[id].old_provinces) {
    const name = tidy(o.old_province_name)
    if (oldProvinceTo.has(name) && oldProvinceTo.get(name) !== provinceIndex.get(id)) fail(`old province ${name} goes to two new provinces`)
    oldProvinceTo.set(name, provinceIndex.get(id))
  }
}

// Every unit name starts with its type; the source holds one that does not (an area of Lục Ngạn,
// Bắc Giang, called "Trung Tâm Huấn Luyện Cấm Sơn"), which is not a commune: left out, and said so.
const TYPED = /^(Thành phố|Thị trấn|Thị xã|Đặc khu|Phường|Xã|Quận|Huyện|Tỉnh) /u
const skipped = []

// old province → district → ward → set of new ward indexes
const old = new Map()
const oldWardHome = new Map()
for (const id of wardIds) {
  const w = source.wards[id]
  for (const o of w.old_wards) {
    const p = tidy(o.old_province_name); const d = tidy(o.old_district_name); const name = tidy(o.old_ward_name)
    if (!TYPED.test(name) || !TYPED.test(d)) { skipped.push(`${name}, ${d}, ${p}`); continue }
    const home = `${p}|${d}|${name}`
    if (oldWardHome.has(o.old_ward_id) && oldWardHome.get(o.old_ward_id) !== home) fail(`old ward ${o.old_ward_id} has two homes`)
    oldWardHome.set(o.old_ward_id, home)
    if (oldProvinceTo.get(p) !== provinceIndex.get(w.new_province_id)) fail(`old ward ${name} of ${p} went to a ward outside ${p}'s successor`)
    if (!old.has(p)) old.set(p, new Map())
    const districts = old.get(p)
    if (!districts.has(d)) districts.set(d, new Map())
    const ws = districts.get(d)
    if (!ws.has(name)) ws.set(name, new Set())
    ws.get(name).add(wardIndex.get(id))
  }
}
const oldProvinces = [...old.keys()].sort(byName).map((p) => [
  p,
  oldProvinceTo.get(p),
  [...old.get(p).keys()].sort(byName).map((d) => [
    d,
    [...old.get(p).get(d).entries()].sort((a, b) => byName(a[0], b[0])).map(([w, to]) => [w, [...to].sort((a, b) => a - b)])
  ])
])

const table = {
  source: 'tanthuan031/vnadministrative@7f7ac8f new_to_old.json (MIT licence: LICENSE-vn-admin-2025 beside this file); built by scripts/build-admin-units.mjs',
  provinces,
  wards,
  oldProvinces
}
// One unit per line: small diffs when the source is corrected, still compact.
const lines = ['{',
  `"source":${JSON.stringify(table.source)},`,
  `"provinces":${JSON.stringify(provinces)},`,
  '"wards":[',
  wards.map((w) => JSON.stringify(w)).join(',\n'),
  '],',
  '"oldProvinces":[',
  oldProvinces.map((p) => JSON.stringify(p)).join(',\n'),
  ']}', '']
writeFileSync(join(outDir, 'vn-admin-2025.json'), lines.join('\n'))
copyFileSync(join(sourceDir, 'LICENSE'), join(outDir, 'LICENSE-vn-admin-2025'))
const oldWards = oldProvinces.reduce((n, [, , ds]) => n + ds.reduce((m, [, ws]) => m + ws.length, 0), 0)
const split = oldProvinces.reduce((n, [, , ds]) => n + ds.reduce((m, [, ws]) => m + ws.filter(([, to]) => to.length > 1).length, 0), 0)
for (const s of skipped) console.log(`left out (no unit type): ${s}`)
console.log(`provinces ${provinces.length} (from ${oldProvinces.length}), wards ${wards.length} (from ${oldWards}, ${split} split)`)
