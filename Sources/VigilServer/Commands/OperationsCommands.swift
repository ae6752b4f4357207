import Fluent
import Foundation
import SQLiteNIO
import SQLKit
import Vapor
import VigilCore

/// Vigil's version, printed by `vigil version` and named by `make dist`.
public enum VigilVersion {
    public static let string = "0.1.0"
}

struct VersionCommand: AsyncCommand {
    struct Signature: CommandSignature {}
    var help: String { "Prints Vigil's version." }
    func run(using context: CommandContext, signature: Signature) async throws {
        context.console.print("vigil \(VigilVersion.string)")
    }
}

/// An SQLite file opened apart from the application's pool (a backup being checked or restored).
enum SQLiteFile {
    /// `PRAGMA integrity_check` and the migrations the file records; throws when it is no SQLite database.
    static func inspect(_ path: String) async throws -> (integrity: String, migrations: [String], tables: Int) {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        do {
            let tables = try await connection.query("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'")
                .first?.column("n")?.integer ?? 0
            let check = try await connection.query("PRAGMA integrity_check").map { $0.column("integrity_check")?.string ?? "?" }
            var migrations: [String] = []
            if try await !connection.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_fluent_migrations'").isEmpty {
                migrations = try await connection.query("SELECT name FROM _fluent_migrations").compactMap { $0.column("name")?.string }
            }
            try await connection.close()
            return (check.joined(separator: "; "), migrations, tables)
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// The first bytes of every SQLite 3 file.
    static func looksLikeSQLite(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 16)) ?? Data()
        return head == Data("SQLite format 3\u{0}".utf8)
    }

    static func fsync(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { _ = Foundation.fsync(fd); close(fd) }
    }
}

/// `vigil backup FILE`: a consistent copy of the SQLite database, made while Vigil serves.
struct BackupCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "file", help: "Where to write the backup (a new file).")
        var file: String
    }

    var help: String {
        "Writes a consistent copy of the SQLite database to FILE while Vigil keeps serving (VACUUM INTO: one read "
            + "transaction, so every write acknowledged before it starts is in the copy, none half-way). On PostgreSQL it "
            + "tells the pg_dump command instead. Keep the server secret with the backup: without it no password works."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        guard case .sqlite(let database) = app.vigil.storage else {
            throw CommandProblem(description: "vigil backup copies an SQLite database; this one is on PostgreSQL. Use pg_dump: "
                                 + "pg_dump --format=custom --file=vigil.dump \"$DATABASE_URL\" (and pg_restore --clean --no-owner --dbname=… vigil.dump to restore); see docs/operations.md.")
        }
        let target = signature.file
        guard !FileManager.default.fileExists(atPath: target) else {
            throw CommandProblem(description: "\(target) exists: vigil backup writes a new file and never replaces one.")
        }
        guard FileManager.default.fileExists(atPath: database) else {
            throw CommandProblem(description: "There is no database at \(database) to back up.")
        }
        let partial = target + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        guard let sql = app.db as? any SQLDatabase else { throw CommandProblem(description: "The database cannot be read.") }
        do {
            try await sql.raw("VACUUM INTO \(bind: partial)").run()
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw CommandProblem(description: "Cannot write \(partial): \(error)")
        }
        let check = try await SQLiteFile.inspect(partial)
        guard check.integrity == "ok" else {
            try? FileManager.default.removeItem(atPath: partial)
            throw CommandProblem(description: "The copy failed its integrity check (\(check.integrity.prefix(200))); nothing was written.")
        }
        SQLiteFile.fsync(partial)
        guard rename(partial, target) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: partial)
            throw CommandProblem(description: "Cannot name the backup \(target): \(reason)")
        }
        ServerSecret.syncDirectory(of: target)
        let size = (try? FileManager.default.attributesOfItem(atPath: target)[.size] as? Int) ?? 0
        context.console.print("Wrote \(target) (\(size) bytes, integrity ok, \(check.migrations.count) migrations).")
        context.console.print(BackupCommand.secretReminder(environment: ProcessInfo.processInfo.environment, storage: app.vigil.storage))
    }

    /// What to keep beside a backup: the secret, named by where it is.
    static func secretReminder(environment: [String: String], storage: VigilConfiguration.Storage) -> String {
        let source: String
        if let file = try? ServerSecret.file(environment: environment, storage: storage, requireNamed: false) {
            source = "the file \(file)"
        } else {
            source = "VIGIL_SECRET_KEY (and VIGIL_SECRET_PREVIOUS_KEYS if set)"
        }
        return "Keep the server secret — \(source) — with this backup, in a separate safe place: passwords, second factors "
            + "and recovery codes are keyed with it, and a database restored without it has none that works. "
            + "The backup holds supporters' data: encrypt it and keep it no longer than your privacy notice says."
    }
}

/// `vigil restore FILE`: a backup made by `vigil backup` into an empty data directory.
struct RestoreCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "file", help: "A backup written by vigil backup.")
        var file: String
    }

    var help: String {
        "Restores a backup made by vigil backup as the database named by VIGIL_DATABASE_PATH, which must not exist yet "
            + "(or be empty): stop Vigil and move the old database away first. The backup is checked (SQLite, integrity, "
            + "migrations this version knows) before anything is written; the copy is written whole or not at all."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        guard case .sqlite(let database) = app.vigil.storage else {
            throw CommandProblem(description: "vigil restore restores an SQLite database; this Vigil is on PostgreSQL. Use pg_restore (see docs/operations.md).")
        }
        let source = signature.file
        guard FileManager.default.isReadableFile(atPath: source) else {
            throw CommandProblem(description: "Cannot read \(source).")
        }
        guard SQLiteFile.looksLikeSQLite(source) else {
            throw CommandProblem(description: "\(source) is not an SQLite database (not a file vigil backup wrote); nothing was written.")
        }
        let backup: (integrity: String, migrations: [String], tables: Int)
        do { backup = try await SQLiteFile.inspect(source) } catch {
            throw CommandProblem(description: "\(source) cannot be read as an SQLite database (\(error)); nothing was written.")
        }
        guard backup.integrity == "ok" else {
            throw CommandProblem(description: "\(source) fails SQLite's integrity check (\(backup.integrity.prefix(200))); nothing was written.")
        }
        guard !backup.migrations.isEmpty else {
            throw CommandProblem(description: "\(source) is not a Vigil database (it records no migrations); nothing was written.")
        }
        let known = Set(Migrations.all.map(\.name))
        let unknown = backup.migrations.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            throw CommandProblem(description: "\(source) was made by a newer Vigil (its schema has \(unknown.count) migration(s) this version does not know, such as \(unknown[0])). Restore it with that version or a later one; nothing was written.")
        }
        if FileManager.default.fileExists(atPath: database) {
            let present = try? await SQLiteFile.inspect(database)
            guard let present, present.tables == 0 else {
                throw CommandProblem(description: "\(database) already holds a database: vigil restore writes only into an empty place. Stop Vigil, move \(database) (and any \(database)-wal, -shm) away, and run it again.")
            }
        }
        for suffix in ["-wal", "-shm", "-journal"] where FileManager.default.fileExists(atPath: database + suffix) {
            throw CommandProblem(description: "\(database)\(suffix) exists beside an empty database: stop every Vigil process and move it away first.")
        }
        let partial = database + ".restoring"
        try? FileManager.default.removeItem(atPath: partial)
        do {
            try FileManager.default.copyItem(atPath: source, toPath: partial)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw CommandProblem(description: "Cannot write \(partial): \(error.localizedDescription); nothing was restored.")
        }
        SQLiteFile.fsync(partial)
        guard rename(partial, database) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: partial)
            throw CommandProblem(description: "Cannot put the copy in place at \(database): \(reason); nothing was restored.")
        }
        ServerSecret.syncDirectory(of: database)
        context.console.print("Restored \(source) to \(database) (\(backup.migrations.count) migrations; run vigil migrate --yes if this version has newer ones).")
        let env = ProcessInfo.processInfo.environment
        if let file = try? ServerSecret.file(environment: env, storage: app.vigil.storage, requireNamed: false),
           !FileManager.default.fileExists(atPath: file) {
            context.console.print("There is no server secret at \(file) yet. Put the secret that was in use when the backup was made there before starting Vigil: with a new one, no password, second factor or recovery code in the backup works.")
        }
    }
}

/// `vigil secret status | rotate | drop-previous`: the server secret's keys.
struct SecretCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "action", help: "status | rotate | drop-previous")
        var action: String
        @Flag(name: "force", help: "For drop-previous: drop the previous keys even though some passwords still need them.")
        var force: Bool
    }

    var help: String {
        "Shows or changes the server secret's keys. `secret status` names the current key and counts the passwords under "
            + "each. `secret rotate` makes a new key and keeps the old ones, so nobody is locked out: each password moves to "
            + "the new key at its owner's next log-in; restart every Vigil process afterwards. `secret drop-previous` (once "
            + "every process runs with the new key) seals second factors under the new key and forgets the old ones; it "
            + "refuses while a password still needs one, unless --force (those people then reset their password)."
    }

    /// Password hashes under the current key, under a previous one, and from before hashes named their key.
    static func passwordCounts(_ secret: ServerSecret, on db: any Database) async throws -> (current: Int, previous: Int, unnamed: Int) {
        let sql = db as! any SQLDatabase
        let rows = try await sql.raw("SELECT password_hash AS h FROM supporters WHERE password_hash IS NOT NULL").all()
        var counts = (current: 0, previous: 0, unnamed: 0)
        for row in rows {
            let hash = try row.decode(column: "h", as: String.self)
            switch Passwords.split(hash).id {
            case nil: counts.unnamed += 1
            case secret.keyID?: counts.current += 1
            default: counts.previous += 1
            }
        }
        return counts
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let env = ProcessInfo.processInfo.environment
        let secret = app.vigilServices.secret
        let file = try ServerSecret.file(environment: env, storage: app.vigil.storage, requireNamed: app.environment != .testing)
        switch signature.action {
        case "status":
            let counts = try await Self.passwordCounts(secret, on: app.db)
            context.console.print("Server secret: \(file.map { "the file \($0)" } ?? "VIGIL_SECRET_KEY"); current key \(secret.keyID), "
                                  + "\(secret.previousKeys.count) previous key(s)\(secret.previousKeys.isEmpty ? "" : " (" + secret.previousKeys.map(ServerSecret.keyID).joined(separator: ", ") + ")").")
            context.console.print("Passwords: \(counts.current) under the current key, \(counts.previous) under a previous key, "
                                  + "\(counts.unnamed) from before hashes named their key.")
        case "rotate":
            guard let file else {
                throw CommandProblem(description: "The secret comes from VIGIL_SECRET_KEY: rotate it by hand — set VIGIL_SECRET_PREVIOUS_KEYS to the present value and VIGIL_SECRET_KEY to a new one (openssl rand -base64 48) for every process, and restart them.")
            }
            let next = secret.rotated()
            // Hashes that name no key were all made with the present key (when there was only
            // one): name it, so that each is checked with exactly one key from now on.
            var named = 0
            if secret.previousKeys.isEmpty {
                named = try await app.db.writeTransaction { db in
                    let sql = db as! any SQLDatabase
                    let before = try await Self.passwordCounts(secret, on: db).unnamed
                    try await sql.raw("""
                        UPDATE supporters SET password_hash = \(bind: Passwords.tag + secret.keyID + ":") || password_hash
                        WHERE password_hash IS NOT NULL AND password_hash NOT LIKE 'vigil:%'
                        """).run()
                    return before
                }
            }
            try next.write(to: file)
            context.console.print("The server secret in \(file) has a new key, \(next.keyID); the previous key \(secret.keyID) is kept, so every password, second factor, recovery code and mailed link still works.")
            if named > 0 { context.console.print("\(named) password hash(es) now name the key they were made with.") }
            context.console.print("Restart every Vigil process now. Each password moves to the new key at its owner's next log-in; "
                                  + "`vigil secret status` counts those left. Back up \(file) again: the old copy lacks the new key.")
        case "drop-previous":
            guard let file else {
                throw CommandProblem(description: "The secret comes from VIGIL_SECRET_KEY: unset VIGIL_SECRET_PREVIOUS_KEYS for every process and restart them.")
            }
            guard !secret.previousKeys.isEmpty else {
                context.console.print("The secret has no previous key; nothing to drop.")
                return
            }
            let counts = try await Self.passwordCounts(secret, on: app.db)
            let stranded = counts.previous + counts.unnamed
            if stranded > 0 && !signature.force {
                throw CommandProblem(description: "\(stranded) password(s) still need a previous key (their owners have not logged in since the rotation). Wait, or run with --force: they then have to reset their password.")
            }
            // Second factors sealed under a previous key are sealed again under the current one.
            let factor = SecondFactor(secret: secret)
            let resealed = try await app.db.writeTransaction { db in
                var resealed = 0
                let rows = try await SupporterModel.query(on: db).filter(\.$totpSecret != nil).all()
                let currentOnly = SecondFactor(secret: ServerSecret(keyBytes: secret.keyBytes))
                for row in rows where currentOnly.open(row.totpSecret, for: row.id!) == nil {
                    guard let plain = factor.open(row.totpSecret, for: row.id!) else { continue }
                    row.totpSecret = try currentOnly.seal(plain, for: row.id!)
                    try await row.update(on: db)
                    resealed += 1
                }
                return resealed
            }
            try ServerSecret(keyBytes: secret.keyBytes).write(to: file)
            context.console.print("Dropped \(secret.previousKeys.count) previous key(s) from \(file); \(resealed) second factor(s) sealed again under \(secret.keyID).")
            context.console.print("Recovery codes given out before the rotation, and links mailed before it, no longer work. Restart every Vigil process, and back up \(file) again.")
            if stranded > 0 { context.console.print("\(stranded) password(s) no longer work: their owners must reset them.") }
        default:
            throw CommandProblem(description: "Unknown action \(signature.action.prefix(40)): use status, rotate or drop-previous.")
        }
    }
}

/// `vigil mail status | suppress --address A | unsuppress --address A | bounce`: the outbox and the addresses that get no mail.
struct MailCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "action", help: "status | suppress | unsuppress | bounce")
        var action: String
        @Option(name: "address", help: "For suppress and unsuppress: the e-mail address.")
        var address: String?
        @Option(name: "reason", help: "For suppress: complaint (the relay reported one), bounce or manual (default).")
        var reason: String?
        @Option(name: "recipient", help: "For bounce: the address the mail server delivered the report to (Postfix: ${original_recipient}).")
        var recipient: String?
    }

    /// The first moment of a month counted from January 2000 (`Bounces.month`).
    static func startOfMonth(_ month: Int) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: 2000 + month / 12, month: month % 12 + 1, day: 1))!
    }

    /// Largest report `mail bounce` reads.
    static let maxReportBytes = 10 * 1024 * 1024

    /// `vigil mail bounce [--recipient ADDRESS] < MESSAGE`: one bounce or complaint, as the mail
    /// server delivers it to the bounce address. Exits 0 when the message was read, whatever it
    /// held (a mail server would otherwise send the report back); says what it did, without
    /// naming any address (this output goes to the mail server's log).
    func bounce(_ context: CommandContext, _ signature: Signature) async throws {
        let services = context.application.vigilServices
        guard let bounceAddress = services.configuration.bounceAddress else {
            throw CommandProblem(description: "VIGIL_MAIL_BOUNCE_ADDRESS is not set, so Vigil's mail carries no tag to check a report "
                + "against, and a forged report could cut anyone off. Set it (see docs/operations.md, \"Bounces and complaints\").")
        }
        var raw = Data()
        while let chunk = try FileHandle.standardInput.read(upToCount: 64 * 1024), !chunk.isEmpty {
            raw.append(chunk)
            guard raw.count <= Self.maxReportBytes else {
                throw CommandProblem(description: "The message is larger than \(Self.maxReportBytes / 1_048_576) MB: not a bounce; nothing was done.")
            }
        }
        var verdict = Bounces.read(raw, envelopeRecipient: signature.recipient, bounceAddress: bounceAddress, secret: services.secret)
        let reason: MailSuppression.Reason = verdict.kind == .complaint ? .complaint : .bounce
        let db = context.application.db
        var added = 0
        do {
            // A complaint whose recipient the feedback loop redacted: its tag names one of the
            // addresses Vigil mailed in the tag's month (the outbox keeps each message's envelope).
            if !verdict.unresolvedTags.isEmpty {
                let months = verdict.unresolvedTags.compactMap { Bounces.monthOf(tag: $0) }
                if let first = months.min(), let last = months.max() {
                    let from = Self.startOfMonth(first), to = Self.startOfMonth(last + 1)
                    let sql = db as! any SQLDatabase
                    let candidates = try await sql.raw("""
                        SELECT DISTINCT to_address FROM mail_outbox WHERE created_at >= \(bind: from) AND created_at < \(bind: to)
                        """).all().map { try $0.decode(column: "to_address", as: String.self) }
                    verdict.suppress = Bounces.resolve(tags: verdict.unresolvedTags, candidates: candidates, secret: services.secret)
                }
                if verdict.suppress.isEmpty {
                    verdict.note = "its tag names no address Vigil mailed in the last months (a forged or too old report)"
                } else {
                    verdict.unverified = 0
                }
            }
            if !verdict.suppress.isEmpty {
                let suppress = verdict.suppress
                added = try await db.writeTransaction { db in
                    var n = 0
                    for address in suppress where try await MailSuppression.suppress(address, reason: reason, on: db) { n += 1 }
                    return n
                }
            }
        } catch {
            // The database cannot be reached: EX_TEMPFAIL, so that the mail server keeps the report
            // and tries again (any other status would return it to its sender, or lose it).
            FileHandle.standardError.write(Data("vigil: the report could not be recorded now (the database cannot be reached); try again later.\n".utf8))
            context.application.logger.warning("mail bounce: \(VigilErrorMiddleware.loggable(error))")
            exit(75)
        }
        var parts = ["\(verdict.kind == .none ? "Not a report" : verdict.kind == .complaint ? "A complaint" : "A bounce"): "
            + "\(verdict.suppress.count) address\(verdict.suppress.count == 1 ? "" : "es") suppressed (\(added) newly)"]
        if verdict.unverified > 0 { parts.append("\(verdict.unverified) named without a matching tag, ignored") }
        if verdict.transient > 0 { parts.append("\(verdict.transient) not failed for good (delayed or temporary), ignored") }
        if verdict.notTheAddress > 0 { parts.append("\(verdict.notTheAddress) failed for a reason that is not the address (policy, full mailbox, routing), ignored") }
        if let note = verdict.note { parts.append(note) }
        context.console.print(parts.joined(separator: "; ") + ".")
    }

    var help: String {
        "The outbox and suppressed addresses. `mail status` counts messages by state and suppressed addresses by reason; "
            + "`mail suppress --address ADDRESS [--reason complaint|bounce|manual]` stops all mail to an address (feed your relay's "
            + "complaint and bounce reports in so); `mail unsuppress --address ADDRESS` lets it be mailed again. Addresses refused for "
            + "good by the receiving server are suppressed on their own. `mail bounce [--recipient ADDRESS] < MESSAGE` reads a bounce "
            + "(RFC 3464) or complaint (RFC 5965) that came back to VIGIL_MAIL_BOUNCE_ADDRESS and suppresses the address it names, "
            + "if its tag matches. Only a hash of each address is kept."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let db = context.application.db
        switch signature.action {
        case "status":
            let sql = db as! any SQLDatabase
            var states: [String] = []
            for row in try await sql.raw("SELECT status, COUNT(*) AS n FROM mail_outbox GROUP BY status ORDER BY status").all() {
                states.append("\(try row.decode(column: "status", as: String.self)) \(try row.decode(column: "n", as: Int64.self))")
            }
            context.console.print("Outbox: " + (states.isEmpty ? "empty" : states.joined(separator: ", ")) + ".")
            let counts = try await MailSuppression.counts(on: db)
            context.console.print("Suppressed addresses: " + (counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) + ".")
        case "suppress", "unsuppress":
            guard let address = signature.address?.trimmingCharacters(in: .whitespaces), address.utf8.count <= 320,
                  EmailAddress.issue(address) == nil else {
                throw CommandProblem(description: "Give the e-mail address: vigil mail \(signature.action) --address ADDRESS.")
            }
            if signature.action == "suppress" {
                guard let reason = MailSuppression.Reason(rawValue: signature.reason ?? "manual") else {
                    throw CommandProblem(description: "--reason must be complaint, bounce or manual.")
                }
                let added = try await db.writeTransaction { db in try await MailSuppression.suppress(address, reason: reason, on: db) }
                context.console.print(added ? "No more mail goes to that address." : "That address was suppressed already.")
            } else {
                let removed = try await db.writeTransaction { db in try await MailSuppression.remove(address, on: db) }
                context.console.print(removed ? "That address can be mailed again." : "That address was not suppressed.")
            }
        case "bounce":
            try await bounce(context, signature)
        default:
            throw CommandProblem(description: "Unknown action \(signature.action.prefix(40)): use status, suppress, unsuppress or bounce.")
        }
    }
}

extension Array {
    func asyncForEach(_ body: (Element) async throws -> Void) async rethrows {
        for element in self { try await body(element) }
    }
}
