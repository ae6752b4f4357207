import Foundation
import Testing
@testable import VigilServer

@Suite("Secrets and passwords")
struct PasswordTests {
    func secret() throws -> ServerSecret {
        try ServerSecret.load(environment: ["VIGIL_SECRET_KEY": String(repeating: "k", count: 40)])
    }

    @Test func theSecretFileIsMadeOnceWithOwnerOnlyPermissions() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-secret-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try ServerSecret.load(environment: ["VIGIL_SECRET_FILE": path])
        let again = try ServerSecret.load(environment: ["VIGIL_SECRET_FILE": path])
        let bytes = { (k: ServerSecret, p: String) in k.key(for: p).withUnsafeBytes { Data($0) } }
        #expect(bytes(first, "x") == bytes(again, "x"))
        #expect(bytes(first, "x") != bytes(first, "y"))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(throws: ServerSecret.Problem.self) { try ServerSecret.load(environment: ["VIGIL_SECRET_KEY": "short"]) }
    }

    @Test func policy() throws {
        let p = Passwords(secret: try secret(), cost: 4)
        #expect(p.problem("short") != nil)
        #expect(p.problem(String(repeating: "ab", count: 65)) != nil, "more than 128")
        #expect(p.problem("Password1234") != nil, "common, case-insensitive")
        #expect(p.problem("aaaaaaaaaaaaaaa") != nil)
        #expect(p.problem("лето в Коктебеле 1997") == nil, "any script, spaces allowed, no composition rules")
        #expect(p.problem("三只小猪盖房子住在森林里") == nil)
        #expect(Passwords.bundledCommonList().count > 50)
    }

    @Test func longPasswordsDoNotCollideAt72Bytes() throws {
        let p = Passwords(secret: try secret(), cost: 4)
        // 64 Cyrillic letters are 128 bytes of UTF-8: these share their first 72 bytes.
        let a = String(repeating: "ж", count: 63) + "а"
        let b = String(repeating: "ж", count: 63) + "б"
        #expect(Array(a.utf8.prefix(72)) == Array(b.utf8.prefix(72)))
        let hash = try p.hash(a)
        #expect(p.verify(a, against: hash))
        #expect(!p.verify(b, against: hash))
        let bcrypt = Passwords.split(hash).bcrypt
        #expect(hash.hasPrefix("vigil:\(try secret().keyID):"), "the hash names the key it was peppered with")
        #expect(bcrypt.hasPrefix("$2b$04$") || bcrypt.hasPrefix("$2a$04$") || bcrypt.hasPrefix("$2y$04$"))
        // The pepper matters: the same password under another secret does not verify.
        let other = Passwords(secret: try ServerSecret.load(environment: ["VIGIL_SECRET_KEY": String(repeating: "z", count: 40)]), cost: 4)
        #expect(!other.verify(a, against: hash))
        // Unicode normalisation: é precomposed and decomposed are one password.
        let h2 = try p.hash("caf\u{E9} au lait noir")
        #expect(p.verify("cafe\u{301} au lait noir", against: h2))
    }

    @Test func productionCostIsTwelve() throws {
        let p = Passwords(secret: try secret())
        #expect(Passwords.split(try p.hash("a long enough passphrase")).bcrypt.hasPrefix("$2b$12$"))
    }

    /// `VIGIL_PASSWORD_COST` sets the cost of new hashes within bcrypt's sane range; a hash made at
    /// another cost still verifies (the cost is in the hash), so changing it locks nobody out.
    @Test func theCostIsConfiguredWithinItsRange() throws {
        #expect(try VigilConfiguration.fromEnvironment([:]).passwordCost == 12)
        #expect(try VigilConfiguration.fromEnvironment(["VIGIL_PASSWORD_COST": "13"]).passwordCost == 13)
        for bad in ["3", "15", "17", "0", "-12", "twelve", "12.5", "99999999999999999999"] {
            #expect(throws: VigilConfiguration.Problem.self, "\(bad)") { try VigilConfiguration.fromEnvironment(["VIGIL_PASSWORD_COST": bad]) }
        }
        let cost = try VigilConfiguration.fromEnvironment(["VIGIL_PASSWORD_COST": "5"]).passwordCost
        let low = Passwords(secret: try secret(), cost: cost)
        let made = try low.hash("a long enough passphrase")
        #expect(Passwords.split(made).bcrypt.hasPrefix("$2b$05$"))
        let other = Passwords(secret: try secret(), cost: 4)
        #expect(other.verify("a long enough passphrase", against: made))
        #expect(!other.verify("a long enough passphrasE", against: made))
        // A hash at another cost is made again at the next log-in; one at this cost is not.
        #expect(other.needsRehash(made) && !low.needsRehash(made))
        #expect(Passwords.cost(of: Passwords.split(made).bcrypt) == 5)
    }
}
