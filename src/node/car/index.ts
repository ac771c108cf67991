/** CAR export and import (CARv1 via @ipld/car). */
export { exportCar } from './export-car.js'
export type { ExportCarOptions } from './export-car.js'
export { importCar, verifyBlock } from './import-car.js'
export type { ImportCarOptions, ImportCarResult } from './import-car.js'
