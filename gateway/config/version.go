package config

// KongVersion is the Kong release whose behaviour the gateway reproduces. GET /
// reports it (go-kong and decK parse it as semver), the Server and Via headers
// carry it, and Kong reports a bundled plugin's version as this core version.
const KongVersion = "3.9.1"
