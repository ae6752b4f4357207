import Foundation
import FluentKit
import SQLKit
import Testing
@testable import VigilServer

/// Where Vigil finds its files, and its secret across a rotation (issue 14).
@Suite("Operations: home and secret")
struct OperationsTests {
    func tree(_ dirs: [String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-home-\(UUID().uuidString)").path
        for d in dirs { try FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true) }
        return root
    }

    @Test func theHomeIsFoundBesideTheExecutableWhateverTheWorkingDirectory() throws {
        let root = try tree(["prefix/bin", "prefix/share/vigil/Resources/Views", "project/.build/x86_64-unknown-linux-gnu/debug",
                             "project/Resources/Views", "elsewhere", "cwd/Resources/Views"])
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Installed: PREFIX/bin/vigil beside PREFIX/share/vigil.
        let installed = try VigilHome.locate(environment: [:], executable: root + "/prefix/bin/vigil", workingDirectory: root + "/elsewhere")
        #expect(installed.path == root + "/prefix/share/vigil/")
        // A build inside the project: three directories up.
        let built = try VigilHome.locate(environment: [:], executable: root + "/project/.build/x86_64-unknown-linux-gnu/debug/vigil",
                                         workingDirectory: root + "/cwd")
        #expect(built.path == root + "/project/", "the executable's own tree comes before the working directory")
        // VIGIL_HOME first, relative to the working directory when relative.
        let named = try VigilHome.locate(environment: ["VIGIL_HOME": "Resources/.."], executable: root + "/prefix/bin/vigil",
                                         workingDirectory: root + "/cwd")
        #expect(named.path == root + "/cwd/Resources/../")
        #expect(throws: VigilHome.NotFound.self) {
            try VigilHome.locate(environment: ["VIGIL_HOME": root + "/elsewhere"], executable: root + "/prefix/bin/vigil", workingDirectory: root)
        }
        // The working directory last; nothing anywhere: the message names where it looked and what to do.
        #expect(try VigilHome.locate(environment: [:], executable: root + "/elsewhere/vigil", workingDirectory: root + "/cwd").path == root + "/cwd/")
        do {
            _ = try VigilHome.locate(environment: [:], executable: root + "/elsewhere/vigil", workingDirectory: root + "/elsewhere")
            Issue.record("found a home where there is none")
        } catch let e as VigilHome.NotFound {
            #expect(e.description.contains(root + "/elsewhere") && e.description.contains("VIGIL_HOME") && e.description.contains("make install"))
        }
    }

    @Test func theSecretLivesBesideTheDatabaseAndMustBeNamedOnPostgreSQL() throws {
        #expect(ServerSecret.defaultFile(for: .sqlite(path: "/var/lib/vigil/vigil.sqlite")) == "/var/lib/vigil/.vigil-secret")
        #expect(ServerSecret.defaultFile(for: .sqlite(path: "vigil.sqlite")) == "./.vigil-secret")
        #expect(ServerSecret.defaultFile(for: .postgres(url: "postgres://u@h/d")) == nil)
        #expect(throws: ServerSecret.Problem.self) {
            try ServerSecret.load(environment: [:], storage: .postgres(url: "postgres://u@h/d"), requireNamed: true)
        }
        let dir = try tree(["data"]) + "/data"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try ServerSecret.load(environment: [:], storage: .sqlite(path: dir + "/v.sqlite"))
        let again = try ServerSecret.load(environment: ["VIGIL_SECRET_FILE": dir + "/.vigil-secret"])
        #expect(made.keyID == again.keyID)
        #expect(try FileManager.default.attributesOfItem(atPath: dir + "/.vigil-secret")[.posixPermissions] as? Int == 0o600)
        // A command that only copies data never makes one.
        _ = try ServerSecret.load(environment: [:], storage: .sqlite(path: dir + "/other/v.sqlite"), create: false)
        #expect(!FileManager.default.fileExists(atPath: dir + "/other/.vigil-secret"))
    }

    @Test func aRotatedSecretIsWrittenWholeAndReadBack() throws {
        let dir = try tree(["d"]) + "/d"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/secret"
        let first = try ServerSecret.load(environment: ["VIGIL_SECRET_FILE": path])
        let next = first.rotated()
        try next.write(to: path)
        let read = try ServerSecret.load(environment: ["VIGIL_SECRET_FILE": path])
        #expect(read.keyID == next.keyID && read.keyID != first.keyID)
        #expect(read.previousKeys.map(ServerSecret.keyID) == [first.keyID])
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(!FileManager.default.fileExists(atPath: path + ".new"))
        try "not a key\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ServerSecret.Problem.self) { try ServerSecret.load(environment: ["VIGIL_SECRET_FILE": path]) }
        // Previous keys beside VIGIL_SECRET_KEY.
        let env = try ServerSecret.load(environment: ["VIGIL_SECRET_KEY": String(repeating: "n", count: 40),
                                                      "VIGIL_SECRET_PREVIOUS_KEYS": String(repeating: "o", count: 40) + " " + String(repeating: "p", count: 40)])
        #expect(env.previousKeys.count == 2)
        #expect(throws: ServerSecret.Problem.self) {
            try ServerSecret.load(environment: ["VIGIL_SECRET_KEY": String(repeating: "n", count: 40), "VIGIL_SECRET_PREVIOUS_KEYS": "short"])
        }
    }

    @Test func passwordsSecondFactorsAndMailedLinksOutliveARotation() throws {
        let old = try ServerSecret.load(environment: ["VIGIL_SECRET_KEY": String(repeating: "a", count: 40)])
        let rotated = old.rotated()
        let newOnly = ServerSecret(keyBytes: rotated.keyBytes)
        let before = Passwords(secret: old, cost: 4), after = Passwords(secret: rotated, cost: 4)
        let password = "лето в Коктебеле 1997"
        let hash = try before.hash(password)
        #expect(after.verify(password, against: hash) && !after.verify(password + "!", against: hash))
        #expect(after.needsRehash(hash) && !before.needsRehash(hash))
        let moved = try after.hash(password)
        #expect(!after.needsRehash(moved) && moved.hasPrefix("vigil:\(rotated.keyID):"))
        #expect(!Passwords(secret: newOnly, cost: 4).verify(password, against: hash), "a dropped key verifies nothing")
        #expect(!before.verify(password, against: moved), "the old server does not know the new key")
        // A hash from before hashes named their key: the current key, or a previous one.
        let legacy = Passwords.split(hash).bcrypt
        #expect(before.verify(password, against: legacy) && after.verify(password, against: legacy) && after.needsRehash(legacy))
        #expect(!Passwords(secret: newOnly, cost: 4).verify(password, against: legacy))

        let account = UUID()
        let sealed = try SecondFactor(secret: old).seal([1, 2, 3, 4], for: account)
        #expect(SecondFactor(secret: rotated).open(sealed, for: account) == [1, 2, 3, 4])
        #expect(SecondFactor(secret: newOnly).open(sealed, for: account) == nil)
        #expect(SecondFactor(secret: rotated).open(sealed, for: UUID()) == nil, "still bound to its account")
        let signed = SecondFactor(secret: old).sign(["a": "b", "exp": String(Int(Date().timeIntervalSince1970) + 60)], purpose: "pending-login")
        #expect(SecondFactor(secret: rotated).verify(signed, purpose: "pending-login")?["a"] == "b")
        #expect(SecondFactor(secret: rotated).verify(signed, purpose: "totp-enrol") == nil)

        let follow = UUID()
        let unsubscribe = EmailFollows.sign(follow, purpose: "unsubscribe", secret: old)
        #expect(EmailFollows.verify(unsubscribe, purpose: "unsubscribe", secret: rotated) == follow)
        #expect(EmailFollows.verify(unsubscribe, purpose: "unsubscribe", secret: newOnly) == nil)
        let data = EmailFollows.dataToken(follow, secret: old)
        #expect(EmailFollows.verifyData(data, secret: rotated) == follow)
    }

    #if os(Linux)
    /// A job's holder names the host as the kernel does (no lookup by name), and the process.
    @Test func aJobsHolderIsTheKernelsHostNameAndTheProcess() throws {
        let kernel = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!kernel.isEmpty && JobRuns.hostName() == kernel)
        #expect(JobRuns.holder == "\(kernel.prefix(64)):\(ProcessInfo.processInfo.processIdentifier)")
    }
    #endif

    /// Several processes find a job due at once: one conditional update lets exactly one run it
    /// in each interval, on both databases.
    @Test(arguments: TestStorage.available) func aPeriodicJobRunsOncePerIntervalAcrossProcesses(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let now = Date()
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<12 {
                    group.addTask { try await JobRuns.claim("housekeeping", every: .seconds(3600), holder: "p\(i)", now: now, on: app.db) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await !JobRuns.claim("housekeeping", every: .seconds(3600), holder: "late", now: now.addingTimeInterval(1800), on: app.db))
            #expect(try await JobRuns.claim("digests", every: .seconds(3600), holder: "other", now: now, on: app.db), "each job on its own")
            // Clocks a second apart: not yet due again for the others.
            #expect(try await !JobRuns.claim("housekeeping", every: .seconds(3600), holder: "skewed", now: now.addingTimeInterval(3599 * 0.85), on: app.db))
            #expect(try await JobRuns.claim("housekeeping", every: .seconds(3600), holder: "next", now: now.addingTimeInterval(3600), on: app.db))
            let sql = app.db as! any SQLDatabase
            let row = try #require(try await sql.raw("SELECT runs, holder FROM job_runs WHERE name = 'housekeeping'").first())
            #expect(try row.decode(column: "runs", as: Int.self) == 2 && row.decode(column: "holder", as: String.self) == "next")
        }
    }

    /// An outcome to many: each run of the mail job hands the relay at most its share of the
    /// minute's messages (`VIGIL_MAIL_PER_MINUTE`), the rest wait their turn; none twice.
    @Test func mailGoesOutAtTheConfiguredPace() async throws {
        try await withApp { app in
            let from = "Vigil <vigil@example.org>"
            for i in 0..<7 {
                _ = try await Outbox.enqueue(to: "many\(i)@example.org", subject: "Outcome", text: "Released", html: nil, from: from, on: app.db)
            }
            let sent = Sent()
            let worker = OutboxWorker(db: app.db, sender: { await sent.add($0.to) }, from: from)
            #expect(try await worker.runOnce(limit: 3, pause: .milliseconds(5)) == 3)
            #expect(try await worker.runOnce(limit: 3, pause: .milliseconds(5)) == 3)
            #expect(try await worker.runOnce(limit: 3, pause: .milliseconds(5)) == 1)
            #expect(try await worker.runOnce(limit: 3) == 0)
            let addresses = await sent.all
            #expect(addresses.count == 7 && Set(addresses).count == 7)
        }
    }
}

extension OperationsTests {
    /// A recipient refused for good is suppressed: what is queued for it later is not sent. A
    /// relay refusing the message itself (554 to DATA) fails that message but suppresses nobody.
    @Test(arguments: TestStorage.available) func aHardBounceSuppressesTheAddressAndARelayRefusalDoesNot(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let from = "Vigil <vigil@example.org>"
            _ = try await Outbox.enqueue(to: "Gone@Example.org", subject: "a", text: "a", html: nil, from: from, on: app.db)
            _ = try await Outbox.enqueue(to: "fine@example.org", subject: "b", text: "b", html: nil, from: from, on: app.db)
            let refuse = OutboxWorker(db: app.db, sender: { message in
                if message.to.lowercased().hasPrefix("gone") {
                    throw SMTPError.unexpectedReply(command: "RCPT TO", code: 550, text: "5.1.1 no such user")
                }
                throw SMTPError.unexpectedReply(command: "DATA", code: 554, text: "5.7.1 message refused")
            }, from: from)
            #expect(try await refuse.runOnce() == 0)
            #expect(try await MailSuppression.isSuppressed("gone@example.org", on: app.db))
            #expect(try await !MailSuppression.isSuppressed("fine@example.org", on: app.db), "the relay's refusal is not the address's")
            #expect(try await OutboxMessageModel.query(on: app.db).filter(\.$status == "failed").count() == 2)
            // Later mail to the suppressed address is kept as an envelope, never sent.
            let later = try await Outbox.enqueue(to: "gone@example.org", subject: "Outcome", text: "secret text", html: nil, from: from, on: app.db)
            #expect(later.status == "suppressed" && later.textBody.isEmpty)
            let sent = Sent()
            _ = try await Outbox.enqueue(to: "fine@example.org", subject: "c", text: "c", html: nil, from: from, on: app.db)
            #expect(try await OutboxWorker(db: app.db, sender: { await sent.add($0.to) }, from: from).runOnce() == 1)
            #expect(await sent.all == ["fine@example.org"])
            // A complaint fed in by the operator; and undone.
            #expect(try await MailSuppression.add("fine@example.org", reason: .complaint, on: app.db))
            #expect(try await !MailSuppression.add("FINE@example.org", reason: .complaint, on: app.db), "one entry per address")
            #expect(try await MailSuppression.counts(on: app.db) == ["bounce": 1, "complaint": 1])
            #expect(try await MailSuppression.remove("fine@example.org", on: app.db))
            #expect(try await !MailSuppression.isSuppressed("fine@example.org", on: app.db))
            let sql = app.db as! any SQLDatabase
            let stored = try await sql.raw("SELECT address_hash FROM mail_suppressions").all().map { try $0.decode(column: "address_hash", as: String.self) }
            #expect(stored.allSatisfy { !$0.contains("@") && $0.count == 64 }, "only a hash of the address is kept")
        }
    }
}

actor Sent {
    var all: [String] = []
    func add(_ to: String) { all.append(to) }
}
