import Crypto
import Foundation

/// The server's secret: keys for tokens and the pepper for password hashes. From
/// `VIGIL_SECRET_KEY`, or else from a file — `VIGIL_SECRET_FILE`, by default `.vigil-secret`
/// beside the SQLite database — created on first run with 32 random bytes, readable by its owner
/// only. It belongs with the data: a database restored without its secret has no usable password,
/// second factor or recovery code. Never logged. Several Vigil processes sharing one PostgreSQL
/// must be given the same secret (`VIGIL_SECRET_KEY`, or one file).
///
/// A secret can be rotated (`vigil secret rotate`): the file then holds the new key on its first
/// line and the keys before it on the next lines (`VIGIL_SECRET_PREVIOUS_KEYS`, separated by
/// spaces, beside `VIGIL_SECRET_KEY`). New values are made with the first; values made with a
/// previous one (passwords, links in mail already sent, second factors) are still accepted.
public struct ServerSecret: Sendable {
    /// Raw key bytes (SymmetricKey is not Sendable).
    let keyBytes: Data
    /// The keys before this one, newest first.
    let previousKeys: [Data]
    var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    init(keyBytes: Data, previousKeys: [Data] = []) {
        self.keyBytes = keyBytes; self.previousKeys = previousKeys
    }

    public struct Problem: Error, CustomStringConvertible { public let description: String }

    /// This secret, then each previous key as a secret of its own: what a value made under any
    /// of them is checked against.
    var ring: [ServerSecret] { [ServerSecret(keyBytes: keyBytes)] + previousKeys.map { ServerSecret(keyBytes: $0) } }

    /// A short public name of the current key (8 hex digits): which key a password hash was made with.
    public var keyID: String { Self.keyID(keyBytes) }

    static func keyID(_ bytes: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("vigil:key-id".utf8), using: SymmetricKey(data: bytes))
        return Hex.string(Data(mac.prefix(4)))
    }

    /// Where the secret file is when `VIGIL_SECRET_FILE` is not set: beside the SQLite database;
    /// nil on PostgreSQL, where the secret must be named.
    public static func defaultFile(for storage: VigilConfiguration.Storage) -> String? {
        guard case .sqlite(let path) = storage else { return nil }
        let dir = (path as NSString).deletingLastPathComponent
        return (dir.isEmpty ? "." : dir) + "/.vigil-secret"
    }

    /// The file the secret is read from, or nil when it comes from `VIGIL_SECRET_KEY`.
    public static func file(environment: [String: String], storage: VigilConfiguration.Storage?, requireNamed: Bool) throws -> String? {
        if let value = environment["VIGIL_SECRET_KEY"], !value.isEmpty { return nil }
        if let named = environment["VIGIL_SECRET_FILE"], !named.isEmpty { return named }
        if let storage, let beside = defaultFile(for: storage) { return beside }
        guard !requireNamed else {
            throw Problem(description: "On PostgreSQL, name the server secret: set VIGIL_SECRET_FILE (a file beside your other data, such as /var/lib/vigil/secret, created on first start) or VIGIL_SECRET_KEY (the same for every process). Back it up with the database: without it no password works.")
        }
        return "./.vigil-secret"
    }

    /// `storage` decides where the file is by default (beside the SQLite database); on
    /// PostgreSQL `requireNamed` refuses to guess (the tests let it fall back to the working directory).
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment,
                            storage: VigilConfiguration.Storage? = nil, requireNamed: Bool = false,
                            legacyCheck: Bool = false, create: Bool = true) throws -> ServerSecret {
        if let value = environment["VIGIL_SECRET_KEY"], !value.isEmpty {
            guard value.utf8.count >= 32 else {
                throw Problem(description: "VIGIL_SECRET_KEY must be at least 32 characters (generate one with: openssl rand -base64 48)")
            }
            var previous: [Data] = []
            for old in (environment["VIGIL_SECRET_PREVIOUS_KEYS"] ?? "").split(whereSeparator: \.isWhitespace) {
                guard old.utf8.count >= 32 else { throw Problem(description: "VIGIL_SECRET_PREVIOUS_KEYS holds a key shorter than 32 characters") }
                previous.append(Data(SHA256.hash(data: Data(old.utf8))))
            }
            return ServerSecret(keyBytes: Data(SHA256.hash(data: Data(value.utf8))), previousKeys: previous)
        }
        let path = try file(environment: environment, storage: storage, requireNamed: requireNamed)!
        if let data = FileManager.default.contents(atPath: path) {
            return try parse(data, path: path)
        }
        // Vigil used to keep the secret in the working directory. Making a new one beside the
        // database while that one exists would leave every password useless: say what to do.
        // Only for a database that exists already (an upgrade): a new one has no passwords to lose.
        if legacyCheck, environment["VIGIL_SECRET_FILE"].map({ $0.isEmpty }) ?? true,
           case .sqlite(let database)? = storage,
           ((try? FileManager.default.attributesOfItem(atPath: database)[.size] as? Int) ?? 0) > 0,
           FileManager.default.fileExists(atPath: "./.vigil-secret"),
           URL(fileURLWithPath: "./.vigil-secret").resolvingSymlinksInPath().path != URL(fileURLWithPath: path).resolvingSymlinksInPath().path {
            throw Problem(description: "The server secret is now kept beside the database, at \(path), and there is none there yet, but ./.vigil-secret exists (where Vigil used to keep it). Move it there (mv ./.vigil-secret \(path)) or set VIGIL_SECRET_FILE=./.vigil-secret; a new secret would leave every password useless.")
        }
        // A command that only reads or copies the database (a backup, a restore into an empty
        // place) never makes the secret: a restore must be started with the backup's own.
        guard create else { return ServerSecret(keyBytes: randomKey()) }
        let bytes = randomKey()
        let text = bytes.base64EncodedString() + "\n"
        // Created owner-only from the first byte (O_CREAT with mode 0600, under a umask that
        // cannot widen it) and never over an existing file (O_EXCL): a second process starting at
        // the same moment reads the winner's secret instead of replacing it.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd < 0 {
            if errno == EEXIST {
                // Another process is writing it: wait for its content.
                for _ in 0..<50 {
                    if let data = FileManager.default.contents(atPath: path), !data.isEmpty { return try parse(data, path: path) }
                    usleep(20_000)
                }
            }
            throw Problem(description: "cannot create \(path) (\(String(cString: strerror(errno)))); set VIGIL_SECRET_KEY or VIGIL_SECRET_FILE")
        }
        let written = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.utf8.count, synced else {
            unlink(path)
            throw Problem(description: "cannot write \(path); set VIGIL_SECRET_KEY or VIGIL_SECRET_FILE")
        }
        syncDirectory(of: path)
        return ServerSecret(keyBytes: bytes)
    }

    static func randomKey() -> Data {
        var rng = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    /// A secret file: one key per line (base64 of at least 32 bytes), the current one first.
    static func parse(_ data: Data, path: String) throws -> ServerSecret {
        let lines = (String(data: data, encoding: .utf8) ?? "").split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        var keys: [Data] = []
        for line in lines {
            guard let raw = Data(base64Encoded: line), raw.count >= 32 else {
                throw Problem(description: "\(path) does not hold a Vigil secret (32 bytes, base64, one key per line); restore it from your backup, or remove it to make a new one (every password then stops working)")
            }
            keys.append(raw)
        }
        guard let first = keys.first else {
            throw Problem(description: "\(path) is empty; restore it from your backup, or remove it to make a new one (every password then stops working)")
        }
        return ServerSecret(keyBytes: first, previousKeys: Array(keys.dropFirst()))
    }

    /// The file's text for this secret: the current key, then the previous ones.
    var fileText: String {
        ([keyBytes] + previousKeys).map { $0.base64EncodedString() + "\n" }.joined()
    }

    /// This secret with a new current key, the present one kept first among the previous.
    func rotated(newKey: Data = ServerSecret.randomKey()) -> ServerSecret {
        ServerSecret(keyBytes: newKey, previousKeys: [keyBytes] + previousKeys)
    }

    /// Writes the secret to `path` whole or not at all: a new file beside it (owner-only),
    /// synced, then renamed over the old one, and the directory synced.
    func write(to path: String) throws {
        let temp = path + ".new"
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Problem(description: "cannot create \(temp) (\(String(cString: strerror(errno))))") }
        let text = fileText
        let written = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.utf8.count, synced, rename(temp, path) == 0 else {
            unlink(temp)
            throw Problem(description: "cannot write \(path) (\(String(cString: strerror(errno))))")
        }
        Self.syncDirectory(of: path)
    }

    static func syncDirectory(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// A key for one purpose, derived from the secret, so that no two uses share a key.
    public func key(for purpose: String) -> SymmetricKey {
        SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Data("vigil:\(purpose)".utf8), using: key))
    }
}
