import Vapor
import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Appends `count` entries, one write transaction each, as the callers of `Audit.record` do.
func appendAuditEntries(_ app: Application, _ count: Int, action: String = "test.entry", start: Int = 1) async throws {
    for i in start..<(start + count) {
        try await app.db.writeTransaction { db in
            try await Audit.record(action, actor: .commandLine, subject: "case:c-\(i)", detail: ["n": String(i), "kind": "test"], on: db)
        }
    }
}

/// A console that keeps what a command prints.
final class CapturingConsole: Console, @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var userInfo: [AnySendableHashable: any Sendable] = [:]
    var size: (width: Int, height: Int) { (120, 40) }
    var text: String { lock.withLock { lines.joined() } }
    func input(isSecure: Bool) -> String { "" }
    func output(_ text: ConsoleText, newLine: Bool) { lock.withLock { lines.append(text.description + (newLine ? "\n" : "")) } }
    func clear(_ type: ConsoleClear) {}
    func report(error: String, newLine: Bool) { lock.withLock { lines.append(error + (newLine ? "\n" : "")) } }
}

/// Runs `vigil <arguments>` for `command` against `app`; returns what it printed.
func runCommand(_ app: Application, _ command: any AsyncCommand, _ arguments: [String]) async throws -> String {
    let console = CapturingConsole()
    var context = CommandContext(console: console, input: CommandInput(arguments: ["vigil"] + arguments))
    context.application = app
    try await command.run(using: &context)
    return console.text
}

@Suite("Audit log")
struct AuditLogTests {
    func sql(_ app: Application) -> any SQLDatabase { app.db as! any SQLDatabase }

    @Test(arguments: TestStorage.available) func entriesChainAndVerifyPasses(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup: an empty log verifies, and names the genesis hash
            let empty = try await Audit.verify(on: app.db)
            #expect(empty.isIntact && empty.entries == 0 && empty.head == Audit.genesis)
            // act
            try await appendAuditEntries(app, 5)
            // check: 1…5, each naming the hash of the one before, the head naming the last
            let rows = try await AuditEntryModel.query(on: app.db).sort(\.$id).all()
            #expect(rows.map(\.seq) == [1, 2, 3, 4, 5])
            #expect(rows[0].prevHash == Audit.genesis)
            for (a, b) in zip(rows, rows.dropFirst()) { #expect(b.prevHash == a.hash) }
            for r in rows { #expect(r.computedHash == r.hash && r.hash.count == 64) }
            #expect(rows[2].detail == #"{"kind":"test","n":"3"}"#, "canonical JSON, keys sorted")
            #expect(rows[2].actorKind == "cli" && rows[2].actorID == nil && rows[2].subject == "case:c-3")
            #expect(rows[2].at.count == 24 && rows[2].at.hasSuffix("Z"))
            let head = try #require(try await Audit.head(on: app.db))
            #expect(head.seq == 5 && head.hash == rows[4].hash)
            let result = try await Audit.verify(on: app.db, pageSize: 2)
            #expect(result.isIntact, "\(result)")
            #expect(result.entries == 5 && result.head == rows[4].hash)
            #expect(result.description == "5 entries, chain intact, head \(rows[4].hash)")
        }
    }

    @Test func theHashEncodingIsUnambiguous() {
        // Moving text from one field to the next changes the hash.
        let a = Audit.hash(seq: 1, prevHash: Audit.genesis, at: "t", actorKind: "cli", actorID: nil, action: "a.b", subject: "c",
                           detail: "{}", before: nil, after: nil)
        let b = Audit.hash(seq: 1, prevHash: Audit.genesis, at: "t", actorKind: "cli", actorID: nil, action: "a.", subject: "bc",
                           detail: "{}", before: nil, after: nil)
        let c = Audit.hash(seq: 1, prevHash: Audit.genesis, at: "t", actorKind: "cli", actorID: nil, action: "a.b", subject: "c",
                           detail: "{}", before: "", after: nil)
        #expect(Set([a, b, c]).count == 3)
        #expect(Audit.canonicalJSON(["b": "2", "a": "x\"\\\n", "é": "1", "Z": "0"]) == #"{"Z":"0","a":"x\"\\\u000a","b":"2","é":"1"}"#)
    }

    enum Tamper: String, CaseIterable, Sendable {
        case detail, time, action, deleteMiddle, deleteLast, swap, swapNeighbours, rewriteWithNewHash, head, deleteHead
    }

    @Test(arguments: TestStorage.available, Tamper.allCases)
    func tamperingIsDetectedAtTheRightEntry(storage: TestStorage, tamper: Tamper) async throws {
        try await withApp(storage) { app in
            // setup: six entries
            try await appendAuditEntries(app, 6)
            #expect(try await Audit.verify(on: app.db).isIntact)
            let db = sql(app)
            // act: change the table behind Vigil's back
            switch tamper {
            case .detail: try await db.raw(#"UPDATE audit_log SET detail = '{"kind":"test","n":"999"}' WHERE seq = 3"#).run()
            case .time: try await db.raw("UPDATE audit_log SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 2").run()
            case .action: try await db.raw("UPDATE audit_log SET action = 'test.harmless' WHERE seq = 4").run()
            case .deleteMiddle: try await db.raw("DELETE FROM audit_log WHERE seq = 3").run()
            case .deleteLast: try await db.raw("DELETE FROM audit_log WHERE seq = 6").run()
            case .swap, .swapNeighbours:
                let (a, b) = tamper == .swap ? (2, 5) : (3, 4)
                try await db.raw("UPDATE audit_log SET seq = -1 WHERE seq = \(unsafeRaw: String(a))").run()
                try await db.raw("UPDATE audit_log SET seq = \(unsafeRaw: String(a)) WHERE seq = \(unsafeRaw: String(b))").run()
                try await db.raw("UPDATE audit_log SET seq = \(unsafeRaw: String(b)) WHERE seq = -1").run()
            case .rewriteWithNewHash:
                // A careful forger changes entry 3 and gives it a hash that fits its new fields.
                let row = try #require(try await AuditEntryModel.find(3, on: app.db))
                row.action = "test.harmless"
                row.hash = row.computedHash
                try await row.update(on: app.db)
            case .head: try await db.raw("UPDATE audit_head SET hash = \(bind: String(repeating: "a", count: 64))").run()
            case .deleteHead: try await db.raw("DELETE FROM audit_head").run()
            }
            // check
            let result = try await Audit.verify(on: app.db)
            let expected: (Int, Audit.Verification.Problem) = switch tamper {
            case .detail: (3, .altered)
            case .time: (2, .altered)
            case .action: (4, .altered)
            case .deleteMiddle: (3, .missing)
            case .deleteLast: (6, .missing)
            case .swap: (2, .reordered)
            case .swapNeighbours: (3, .reordered)
            case .rewriteWithNewHash: (3, .altered)
            case .head: (6, .headMismatch)
            case .deleteHead: (6, .headMismatch)
            }
            let failure = try #require(result.failure, "\(tamper) went unnoticed")
            #expect(failure.seq == expected.0 && failure.problem == expected.1, "\(tamper): \(result)")
        }
    }

    @Test(arguments: TestStorage.available) func concurrentAppendsKeepOneChain(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // act: 24 appenders at once, each in its own write transaction
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 1...24 {
                    group.addTask {
                        try await app.db.writeTransaction { db in
                            try await Audit.record("test.concurrent", actor: .system, detail: ["n": String(i)], on: db)
                        }
                    }
                }
                try await group.waitForAll()
            }
            // check: 24 entries, 1…24, one unbroken chain, every appender's entry there once
            let result = try await Audit.verify(on: app.db)
            #expect(result.isIntact && result.entries == 24, "\(result)")
            let rows = try await AuditEntryModel.query(on: app.db).sort(\.$id).all()
            #expect(rows.map(\.seq) == Array(1...24))
            #expect(Set(rows.compactMap { $0.details["n"] }) == Set((1...24).map(String.init)))
        }
    }

    @Test(arguments: TestStorage.available) func anAppendOutsideATransactionCannotForkTheChain(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await appendAuditEntries(app, 2)
            // A row with the next number already there (a racing appender): the append fails, the chain stays whole.
            let intruder = try #require(try await AuditEntryModel.find(2, on: app.db))
            try await sql(app).raw("UPDATE audit_head SET seq = 1, hash = \(bind: intruder.prevHash)").run()
            await #expect(throws: (any Error).self) {
                try await app.db.writeTransaction { db in try await Audit.record("test.fork", actor: .system, on: db) }
            }
            #expect(try await AuditEntryModel.query(on: app.db).count() == 2)
        }
    }

    @Test(arguments: TestStorage.available) func aPublishThroughTheAPINamesItsToken(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup
            let h = try await editorHeaders(app)
            let token = try #require(try await APITokenModel.query(on: app.db).first())
            // act
            let created = try await send(app, .POST, "/api/v1/cases", headers: h, json: #"{"id":"new-case","title":"New","countries":["FR"]}"#)
            #expect(created.status == .created)
            let again = try await send(app, .PUT, "/api/v1/cases/new-case", headers: h, json: #"{"title":"New","countries":["FR"]}"#)
            #expect(again.status == .ok)
            // check: one entry for the change (an unchanged replace writes nothing), naming the token and the publishing log
            let rows = try await AuditEntryModel.query(on: app.db).filter(\.$action == "case.create").all()
            let entry = try #require(rows.first)
            #expect(rows.count == 1)
            #expect(entry.actorKind == "token" && entry.actorID == token.id!.uuidString.lowercased())
            #expect(entry.subject == "case:new-case")
            let log = try #require(try await PublishingLogModel.query(on: app.db).sort(\.$id, .descending).first())
            #expect(entry.details["publishing_log"] == String(log.id!))
            #expect(entry.details["cases"] == "1")
            #expect(try await AuditEntryModel.query(on: app.db).filter(\.$action == "case.replace").count() == 0)
            #expect(try await Audit.verify(on: app.db).isIntact)
        }
    }

    @Test(arguments: TestStorage.available) func theCommandLineIsAnActorToo(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // act: `vigil demo`, `vigil token create`, `vigil token revoke`
            try await loadDemo(app)
            let out = try await runCommand(app, TokenCommand(), ["create", "--role", "publisher", "--label", "Importer"])
            #expect(out.contains("shown only once"))
            let token = try #require(try await APITokenModel.query(on: app.db).first())
            _ = try await runCommand(app, TokenCommand(), ["revoke", "--id", token.id!.uuidString])
            // check
            let rows = try await AuditEntryModel.query(on: app.db).sort(\.$id).all()
            #expect(rows.map(\.action) == ["bundle.import", "token.created", "token.revoked"])
            #expect(rows.allSatisfy { $0.actorKind == "cli" && $0.actorID == nil })
            #expect(rows[0].subject == nil, "a bundle of several cases names none; its counts say how many")
            #expect(Int(rows[0].details["cases"] ?? "") ?? 0 > 1)
            #expect(rows[1].subject == "token:" + token.id!.uuidString.lowercased() && rows[1].details["role"] == "publisher")
        }
    }

    @Test(arguments: TestStorage.available) func noEntryHoldsAnEmailAddress(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup: content, a supporter who exports and erases their data, a token made in the browser's way
            try await loadDemo(app)
            let b = Browser(app)
            try await AccountTests().signUpAndVerify(app, b, email: "ana@example.org")
            let (login, _) = try await b.post("/login", ["email": "ana@example.org", "password": AccountTests().password], csrfFrom: "/login")
            #expect(login.status == .seeOther)
            #expect(try await b.get("/account/export.json").0.status == .ok)
            let s = try #require(try await SupporterModel.query(on: app.db).filter(\.$email == "ana@example.org").first())
            try await PrivacyController.erase(supporter: s, on: app.db)
            let h = try await editorHeaders(app)
            _ = try await send(app, .POST, "/api/v1/cases", headers: h, json: #"{"id":"new-case","title":"New","countries":["FR"]}"#)
            // check: the export and the erasure are there, by id; no column of any entry has an '@'
            let rows = try await AuditEntryModel.query(on: app.db).all()
            let subject = "account:" + s.id!.uuidString.lowercased()
            #expect(rows.contains { $0.action == "data.exported" && $0.subject == subject })
            #expect(rows.contains { $0.action == "account.erased" && $0.subject == subject })
            let raw = try await sql(app).raw("SELECT * FROM audit_log").all()
            for row in raw {
                for column in row.allColumns {
                    let value = (try? row.decode(column: column, as: String?.self)) ?? nil
                    #expect(!(value ?? "").contains("@"), "\(column): \(value ?? "")")
                }
            }
            #expect(raw.count == rows.count && rows.count >= 4)
            // and a caller that tries to write an address is refused (debug builds throw; release builds strip)
            await #expect(throws: Audit.PersonalDataError.self) {
                try await app.db.writeTransaction { db in
                    try await Audit.record("test.leak", actor: .system, detail: ["to": "ana@example.org"], on: db)
                }
            }
            await #expect(throws: Audit.PersonalDataError.self) {
                try await app.db.writeTransaction { db in try await Audit.record("test.leak", actor: .system, subject: "ana@example.org", on: db) }
            }
            #expect(try await Audit.verify(on: app.db).isIntact)
        }
    }

    @Test func csvCellsThatLookLikeFormulasAreDefused() {
        #expect(Audit.csvLine(["=1+2", "+SUM(A1)", "-3", "@cmd", "\tx", "plain", "a,b", "say \"hi\"", "two\nlines", "1-2"])
            == "'=1+2,'+SUM(A1),'-3,'@cmd,'\tx,plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",1-2\r\n")
        #expect(Audit.csvLine(["=HYPERLINK(\"http://x\",\"y\")"]) == "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\r\n")
    }

    @Test(arguments: TestStorage.available) func exportWritesCSVWithFiltersAndDefusedCells(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup
            try await appendAuditEntries(app, 3)
            try await app.db.writeTransaction { db in
                try await Audit.record("token.created", actor: .commandLine, subject: "=HYPERLINK(\"http://evil\")", detail: ["role": "-editor"], on: db)
            }
            // act
            var all = ""
            let count = try await AuditCommand.export(Audit.Filter(), on: app.db) { all += $0 }
            var tokens = ""
            _ = try await AuditCommand.export(Audit.Filter(actionPrefix: "token."), on: app.db) { tokens += $0 }
            // check
            #expect(count == 4)
            let lines = all.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.count == 5 && lines[0] == "seq,time,actor_kind,actor_id,action,subject,detail,before,after,prev_hash,hash")
            #expect(lines[1].hasPrefix("1,") && lines[4].hasPrefix("4,"))
            #expect(lines[4].contains("\"'=HYPERLINK(\"\"http://evil\"\")\""))
            #expect(tokens.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 2)
            // the command writes a file, and records that it did
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).csv").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            let out = try await runCommand(app, AuditCommand(), ["export", "--from", "2000-01-01", "--to", "2999-12-31", "--output", path])
            #expect(out.contains("Wrote 4 audit log entries"))
            #expect(try String(contentsOfFile: path, encoding: .utf8) == all)
            #expect(try await AuditEntryModel.query(on: app.db).sort(\.$id, .descending).first()?.action == "audit.exported")
            await #expect(throws: CommandProblem.self) { _ = try await runCommand(app, AuditCommand(), ["export", "--from", "yesterday"]) }
        }
    }

    @Test(arguments: TestStorage.available) func verifyCommandReportsTheHeadOrTheFirstBadEntry(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup
            try await loadDemo(app)
            try await appendAuditEntries(app, 3)
            // act / check: intact
            let head = try #require(try await Audit.head(on: app.db))
            let out = try await runCommand(app, AuditCommand(), ["verify"])
            #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "4 entries, chain intact, head \(head.hash)")
            // act / check: altered
            try await sql(app).raw("UPDATE audit_log SET subject = 'case:other' WHERE seq = 2").run()
            do {
                _ = try await runCommand(app, AuditCommand(), ["verify"])
                Issue.record("verify passed an altered log")
            } catch let p as CommandProblem {
                #expect(p.description.contains("entry 2: altered"), "\(p)")
            }
        }
    }

    @Test(arguments: TestStorage.available) func aRewrittenChainPassesVerifyButNotTheNotedHead(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup: five entries; the operator notes the head
            try await appendAuditEntries(app, 5)
            let noted = try #require(try await Audit.head(on: app.db)).hash
            #expect(try await runCommand(app, AuditCommand(), ["verify", "--noted", noted]).contains("entry 5"))
            // act: a forger with write access changes entry 2 and rewrites every hash after it, and the head
            var previous = ""
            for row in try await AuditEntryModel.query(on: app.db).sort(\.$id).all() {
                if row.seq == 2 { row.action = "test.forged" }
                if row.seq >= 2 { row.prevHash = previous; row.hash = row.computedHash; try await row.update(on: app.db) }
                previous = row.hash
            }
            try await sql(app).raw("UPDATE audit_head SET hash = \(bind: previous)").run()
            // check: the chain is consistent again (what a hash chain cannot tell), but it no longer reaches the noted head
            #expect(try await Audit.verify(on: app.db).isIntact)
            await #expect(throws: CommandProblem.self) { _ = try await runCommand(app, AuditCommand(), ["verify", "--noted", noted]) }
        }
    }

    @Test(arguments: TestStorage.available) func thePageModelFiltersAndPagesNewestFirst(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup: 60 entries, and a publish of one case
            try await appendAuditEntries(app, 60)
            try await loadDemoWith126Open(app)
            let strings = app.vigilServices.strings
            // act: the first page
            let first = try await NewsroomAuditPage.load(Audit.Filter(), before: nil, on: app.db, strings: strings)
            // check
            #expect(first.total == 61 && first.entries.count == NewsroomAuditPage.pageSize)
            #expect(first.entries.map(\.seq) == Array((12...61).reversed()))
            #expect(first.older == "/newsroom/audit?before=12" && first.newest == nil)
            #expect(first.entries[0].action == "bundle.import" && first.entries[0].actor == strings["audit_actor_cli"])
            let second = try await NewsroomAuditPage.load(Audit.Filter(), before: 12, on: app.db, strings: strings)
            #expect(second.entries.map(\.seq) == Array((1...11).reversed()) && second.older == nil && second.newest == "/newsroom/audit")
            // filters: action prefix, subject (with its public page), dates, actor
            let tests = try await NewsroomAuditPage.load(NewsroomAuditPage.filter(["action": "test.", "subject": "case:c-7"]),
                                                         before: nil, on: app.db, strings: strings)
            #expect(tests.entries.map(\.seq) == [7] && tests.csv == "/newsroom/audit.csv?action=test.&subject=case%3Ac-7")
            #expect(tests.entries[0].details.map(\.key) == ["kind", "n"])
            try await app.db.writeTransaction { db in
                try await Audit.record("case.replace", actor: .token(UUID()), subject: "case:crimean-tatar-defenders-kuku", on: db)
            }
            let kase = try await NewsroomAuditPage.load(NewsroomAuditPage.filter(["subject": "case:crimean-tatar-defenders-kuku"]),
                                                        before: nil, on: app.db, strings: strings)
            #expect(kase.entries.first?.subjectLink == "/cases/crimean-tatar-defenders-kuku")
            #expect(kase.entries.first?.actor == strings["audit_actor_token"])
            let today = String(Audit.timestamp(Date()).prefix(10))
            #expect(try await NewsroomAuditPage.load(NewsroomAuditPage.filter(["from": today, "to": today]), before: nil, on: app.db,
                                                     strings: strings).entries.count == NewsroomAuditPage.pageSize)
            #expect(try await NewsroomAuditPage.load(NewsroomAuditPage.filter(["to": "2001-01-01"]), before: nil, on: app.db,
                                                     strings: strings).entries.isEmpty)
            #expect(try await NewsroomAuditPage.load(NewsroomAuditPage.filter(["actor": "cli"]), before: nil, on: app.db,
                                                     strings: strings).total == 62)
            // a bad filter says so and narrows nothing by it
            let bad = try await NewsroomAuditPage.load(NewsroomAuditPage.filter(["from": "31/12/2026", "action": "x%"]), before: nil,
                                                       on: app.db, strings: strings)
            #expect(bad.errors.count == 2 && !bad.entries.isEmpty)
        }
    }

    @Test(arguments: TestStorage.available) func anAdminReadsAndDownloadsTheLog(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // setup: an admin with a second factor, signed in; a publish and an entry with a formula-like subject
            let b = Browser(app)
            try await NewsroomLogin.account(app, b, email: "admin@example.org", roles: [.admin])
            try await loadDemo(app)
            try await app.db.writeTransaction { db in
                try await Audit.record("test.formula", actor: .system, subject: "=cmd|' /C calc'!A0", on: db)
            }
            let admin = try #require(try await SupporterModel.query(on: app.db).filter(\.$email == "admin@example.org").first())
            // act
            let (page, html) = try await b.get("/newsroom/audit")
            let (filtered, only) = try await b.get("/newsroom/audit?action=bundle.")
            let (bad, _) = try await b.get("/newsroom/audit?from=yesterday")
            let (csv, text) = try await b.get("/newsroom/audit.csv?subject=" + Endpoint.percentEncode("=cmd|' /C calc'!A0"))
            // check: the page names accounts by name and id, never by address
            #expect(page.status == .ok, "\(html.prefix(300))")
            #expect(html.contains("<h1>Audit log</h1>") && html.contains("bundle.import") && html.contains("second-factor.enrolled"))
            #expect(html.contains(admin.id!.uuidString.lowercased()) && html.contains(">Ana<"))
            #expect(!html.contains("admin@example.org"))
            #expect(filtered.status == .ok && only.contains("bundle.import") && !only.contains("second-factor.enrolled</code>"))
            #expect(bad.status == .badRequest)
            #expect(csv.status == .ok)
            #expect(csv.headers.first(name: .contentType)?.hasPrefix("text/csv") == true)
            #expect(csv.headers.first(name: .contentDisposition)?.hasPrefix("attachment;") == true)
            let lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.count == 2 && lines[1].contains(",'=cmd|' /C calc'!A0,"), "\(text)")
            // the download is itself in the log, by the admin's id
            let last = try #require(try await AuditEntryModel.query(on: app.db).sort(\.$id, .descending).first())
            #expect(last.action == "audit.exported" && last.actorID == admin.id!.uuidString.lowercased() && last.details["entries"] == "1")
            #expect(try await Audit.verify(on: app.db).isIntact)
        }
    }

    @Test(arguments: TestStorage.available) func theAuditPagesAreNotForAnonymousVisitors(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let page = try await send(app, .GET, "/newsroom/audit")
            let csv = try await send(app, .GET, "/newsroom/audit.csv")
            #expect(page.status == .unauthorized && csv.status == .unauthorized)
            #expect(csv.headers.first(name: .contentDisposition) == nil)
        }
    }
}
