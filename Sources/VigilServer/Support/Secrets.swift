import Crypto
import Foundation

/// The server's secret: keys for tokens and the pepper for password hashes. From
/// `VIGIL_SECRET_KEY`, or else from a local file (`VIGIL_SECRET_FILE`, default `./.vigil-secret`)
/// that is created on first run with 32 random bytes, readable by its owner only. Never logged.
/// Several Vigil processes sharing one PostgreSQL must be given the same `VIGIL_SECRET_KEY`.
public struct ServerSecret: Sendable {
    /// Raw key bytes (SymmetricKey is not Sendable).
    let keyBytes: Data
    var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    public struct Problem: Error, CustomStringConvertible { public let description: String }

    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerSecret {
        if let value = environment["VIGIL_SECRET_KEY"], !value.isEmpty {
            guard value.utf8.count >= 32 else {
                throw Problem(description: "VIGIL_SECRET_KEY must be at least 32 characters (generate one with: openssl rand -base64 48)")
            }
            return ServerSecret(keyBytes: Data(SHA256.hash(data: Data(value.utf8))))
        }
        let path = environment["VIGIL_SECRET_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "./.vigil-secret"
        if let data = FileManager.default.contents(atPath: path) {
            guard let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
                  let raw = Data(base64Encoded: text), raw.count >= 32 else {
                throw Problem(description: "\(path) does not hold a Vigil secret (32 bytes, base64); remove it to make a new one")
            }
            return ServerSecret(keyBytes: raw)
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        let text = Data(bytes).base64EncodedString() + "\n"
        // Created owner-only from the first byte (O_CREAT with mode 0600, under a umask that
        // cannot widen it) and never over an existing file (O_EXCL): a second process starting at
        // the same moment reads the winner's secret instead of replacing it.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 {
            if errno == EEXIST {
                // Another process is writing it: wait for its content.
                for _ in 0..<50 {
                    if let data = FileManager.default.contents(atPath: path), !data.isEmpty { return try load(environment: environment) }
                    usleep(20_000)
                }
            }
            throw Problem(description: "cannot create \(path) (\(String(cString: strerror(errno)))); set VIGIL_SECRET_KEY or VIGIL_SECRET_FILE")
        }
        let written = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.utf8.count, synced else {
            unlink(path)
            throw Problem(description: "cannot write \(path); set VIGIL_SECRET_KEY or VIGIL_SECRET_FILE")
        }
        return ServerSecret(keyBytes: Data(bytes))
    }

    /// A key for one purpose, derived from the secret, so that no two uses share a key.
    public func key(for purpose: String) -> SymmetricKey {
        SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Data("vigil:\(purpose)".utf8), using: key))
    }
}
