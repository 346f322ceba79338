export { connectBus, type ConnectBusOptions, type BusLogger } from './connect-bus.js'
export { provisionBus, deprovisionBus, type ProvisionOptions } from './provision.js'
export { LoadRegistry, canTransition, type LoadEntry } from './load-registry.js'
export { BusError, JsErrCode, isRevisionConflict } from './errors.js'
