import Crypto
import Foundation
import Synchronization
import Vapor

/// Supporters' passwords: 12 to 128 characters of any script, no composition rules, not a known
/// common or breached password; stored as bcrypt (cost 12, `VIGIL_PASSWORD_COST`) of an HMAC-SHA256 of the password keyed
/// with the server's pepper. The pre-hash matters: bcrypt reads only 72 bytes, so two long
/// passwords (a 64-character Cyrillic one is 128 bytes) sharing their first 72 bytes would
/// otherwise be the same password.
///
/// A hash made since secret rotation existed names the key it was peppered with
/// (`vigil:<key id>:<bcrypt>`), so that after `vigil secret rotate` each hash is checked with its
/// own key — one bcrypt, as before — and replaced by one under the new key at the next log-in.
public struct Passwords: Sendable {
    /// The pepper of each key of the secret, the current first, with its key id.
    let peppers: [(id: String, bytes: Data)]
    var pepper: SymmetricKey { SymmetricKey(data: peppers[0].bytes) }
    let cost: Int
    let common: Set<String>

    public init(secret: ServerSecret, cost: Int = 12, commonList: Set<String> = Passwords.bundledCommonList()) {
        peppers = secret.ring.map { ($0.keyID, $0.key(for: "password-pepper").withUnsafeBytes { Data($0) }) }
        self.cost = cost
        common = commonList
    }

    static let tag = "vigil:"

    /// The key id a stored hash names, and its bcrypt part; nil id for a hash from before rotation.
    static func split(_ stored: String) -> (id: String?, bcrypt: String) {
        guard stored.hasPrefix(tag) else { return (nil, stored) }
        let rest = stored.dropFirst(tag.count)
        guard let colon = rest.firstIndex(of: ":") else { return (nil, stored) }
        return (String(rest[..<colon]), String(rest[rest.index(after: colon)...]))
    }

    /// Read once per process (10,000 lines).
    public static func bundledCommonList() -> Set<String> { bundled }

    private static let bundled: Set<String> = {
        guard let url = VigilHome.currentDataFile("common-passwords.txt"),
              let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return Set(text.split(whereSeparator: \.isNewline).map { $0.lowercased() }.filter { !$0.hasPrefix("#") })
    }()

    /// What is wrong with a new password, in words a person can act on; nil when it is fine.
    public func problem(_ password: String) -> String? {
        let count = password.count
        if count < 12 { return "Use at least 12 characters; a few words together make a good password." }
        if count > 128 { return "Use at most 128 characters." }
        let lowered = password.lowercased()
        if isCommon(lowered) { return "This password is in lists of common or leaked passwords; choose another." }
        if Set(lowered).count <= 2 { return "This password repeats the same characters; choose another." }
        return nil
    }

    /// In the list as it is, as a listed password with digits or symbols added at the end
    /// ("iloveyou2024!"), or as a listed password said twice or more ("qwertyqwertyqwerty").
    func isCommon(_ lowered: String) -> Bool {
        if common.contains(lowered) { return true }
        let stem = String(lowered.reversed().drop { !$0.isLetter }.reversed())
        if stem.count >= 4, stem != lowered, common.contains(stem) { return true }
        let chars = Array(lowered)
        for unit in 1...max(1, chars.count / 2) where chars.count % unit == 0 {
            let head = Array(chars[0..<unit])
            if stride(from: unit, to: chars.count, by: unit).allSatisfy({ Array(chars[$0..<$0 + unit]) == head }),
               common.contains(String(head)) { return true }
        }
        return false
    }

    func prehash(_ password: String, pepper: SymmetricKey? = nil) -> String {
        // Base64 of 32 bytes is 44 characters: within bcrypt's 72.
        Data(HMAC<SHA256>.authenticationCode(for: Data(password.precomposedStringWithCanonicalMapping.utf8), using: pepper ?? self.pepper)).base64EncodedString()
    }

    public func hash(_ password: String) throws -> String {
        Self.tag + peppers[0].id + ":" + (try Bcrypt.hash(prehash(password), cost: cost))
    }

    public func verify(_ password: String, against stored: String) -> Bool {
        let (id, bcrypt) = Self.split(stored)
        if let id {
            // Exactly one bcrypt: the key the hash names (none: a key dropped from the secret).
            guard let pepper = peppers.first(where: { $0.id == id }) else {
                _ = try? Bcrypt.verify(prehash(password), created: Self.dummyHash(cost: cost))
                return false
            }
            return (try? Bcrypt.verify(prehash(password, pepper: SymmetricKey(data: pepper.bytes)), created: bcrypt)) ?? false
        }
        // Made before hashes named their key: with the current key, else (a secret rotated by
        // hand through VIGIL_SECRET_PREVIOUS_KEYS, without `vigil secret rotate`) a previous one.
        for pepper in peppers where (try? Bcrypt.verify(prehash(password, pepper: SymmetricKey(data: pepper.bytes)), created: bcrypt)) == true {
            return true
        }
        return false
    }

    /// True when a stored hash is not under the current key, or not at the configured cost: hash
    /// the password again at log-in. (After `VIGIL_PASSWORD_COST` changes, a known account's
    /// log-in and an unknown one's take different times until the account logs in again.)
    public func needsRehash(_ stored: String) -> Bool {
        let (id, bcrypt) = Self.split(stored)
        return id != peppers[0].id || Self.cost(of: bcrypt) != cost
    }

    /// The cost written in a bcrypt hash (`$2b$12$…`), nil when it is not one.
    static func cost(of bcrypt: String) -> Int? {
        let parts = bcrypt.split(separator: "$", omittingEmptySubsequences: false)
        return parts.count >= 4 ? Int(parts[2]) : nil
    }

    /// Spends the time of one verification, so that an unknown account answers as slowly as a known one.
    public func verifyDummy(_ password: String) {
        _ = verify(password, against: Self.dummyHash(cost: cost))
    }

    /// One stand-in hash per cost, made once: at the cost real hashes have, so that the two take
    /// the same time (a stand-in at cost 12 beside test hashes at cost 4 made every unknown-account
    /// log-in of the test suite hundreds of times slower than a known one).
    static func dummyHash(cost: Int) -> String {
        dummyHashes.withLock { cache in
            if let h = cache[cost] { return h }
            let h = (try? Bcrypt.hash("vigil-dummy-password", cost: cost)) ?? ""
            cache[cost] = h
            return h
        }
    }
    private static let dummyHashes = Mutex<[Int: String]>([:])
}
