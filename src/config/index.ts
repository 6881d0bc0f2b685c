/**
 * The agent's configuration: one JSON or TOML file, validated at start.
 *
 *   loadAgentConfig(path?)          parse + validate (defaults when no file exists)
 *   verifyAgentFilesTrusted(config) refuse config/token/TLS/rule files anyone but root could write
 *   readDeliveryToken(config)       the bearer token, from its (trusted, private) file
 */
export * from './types';
export { ConfigError, loadAgentConfig, readDeliveryToken, verifyAgentFilesTrusted } from './load';
export { defaultAgentConfig, defaultConfigDir } from './defaults';
export { schemaReference } from './schema';
export { checkTrustedFile, checkTrustedTree, UntrustedFileError, type TrustOptions } from './trust';
export { createMuteFilter } from './mute';
