/// `meshctl version --json`, and the local API's `version` answer (`{"version": ...}`).
///
/// Schema (stable): `{"meshctl": String, "meshd": String?, "meshdError": String?}`: `meshd` is
/// the running daemon's version, absent (with `meshdError` saying why) when it cannot be asked.
public struct VersionReport: Codable, Sendable, Equatable {
    public var meshctl: String
    public var meshd: String?
    public var meshdError: String?
    public init(meshctl: String, meshd: String?, meshdError: String? = nil) {
        self.meshctl = meshctl
        self.meshd = meshd
        self.meshdError = meshdError
    }
}

/// What the daemon answers to `version`.
public struct DaemonVersion: Codable, Sendable, Equatable {
    public var version: String
    public init(version: String) { self.version = version }
}
