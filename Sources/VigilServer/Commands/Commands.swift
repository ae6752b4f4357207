import Fluent
import Foundation
import Vapor
import VigilCore
import VigilDocuments

func registerCommands(_ app: Application) {
    app.asyncCommands.use(ImportCommand(), as: "import")
    app.asyncCommands.use(ExportCommand(), as: "export")
    app.asyncCommands.use(DemoCommand(), as: "demo")
    app.asyncCommands.use(TokenCommand(), as: "token")
    app.asyncCommands.use(UserCommand(), as: "user")
    app.asyncCommands.use(RenderCommand(), as: "render")
    app.asyncCommands.use(TemplatesCommand(), as: "templates")
    app.asyncCommands.use(AuditCommand(), as: "audit")
    app.asyncCommands.use(StringsCommands(), as: "strings")
    app.asyncCommands.use(BackupCommand(), as: "backup")
    app.asyncCommands.use(RestoreCommand(), as: "restore")
    app.asyncCommands.use(SecretCommand(), as: "secret")
    app.asyncCommands.use(VersionCommand(), as: "version")
    app.asyncCommands.use(MailCommand(), as: "mail")
    registerWithdrawalCommands(app)
}

/// Problems a command reports to its user, without a stack trace.
struct CommandProblem: Error, CustomStringConvertible {
    let description: String
}

func describe(_ error: any Error) -> String {
    switch error {
    case let v as ValidationError:
        return "The bundle was refused (\(v.issues.count) problem\(v.issues.count == 1 ? "" : "s")); nothing was written:\n"
            + v.issues.map { "  \($0.path): \($0.message)" }.joined(separator: "\n")
    case let p as JSONParseError: return "The input is \(p.reason)"
    default: return String(describing: error)
    }
}

struct ImportCommand: AsyncCommand {
    static let standardInput = "/dev/stdin"
    struct Signature: CommandSignature {
        @Argument(name: "file", help: "A vigil.bundle/1 JSON file, or - to read standard input.")
        var file: String
        @Flag(name: "no-alerts", help: "Do not e-mail the supporters who follow the cases (for back-filling old documents).")
        var noAlerts: Bool
    }
    var help: String {
        "Imports a vigil.bundle/1 file: targets and cases with their people, timeline, urgent actions and documents. "
            + "Idempotent (importing the same bundle twice changes nothing) and all-or-nothing: a bundle with any error "
            + "is refused with every problem listed by JSON path, and nothing is written. New updates and outcomes "
            + "queue alert e-mails to their followers in the same transaction (the server's mail worker sends them), "
            + "unless --no-alerts is given."
    }

    /// Imports in one transaction; returns the summary and the number of alert e-mails queued.
    static func importBundle(_ text: Data, alerts: Bool, app: Application) async throws -> (WriteSummary, Int) {
        try await importBundle(try ContentWriter.read(json: text), alerts: alerts, app: app)
    }

    static func importBundle(_ read: ContentWriter.ReadBundle, alerts: Bool, app: Application) async throws -> (WriteSummary, Int) {
        let result = try await app.vigilServices.publisher.publish(.bundle(read), by: .commandLine, alerts: alerts, on: app.db)
        return (result.summary, result.alertsQueued)
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        do {
            let read: ContentWriter.ReadBundle
            if signature.file == "-" || signature.file == Self.standardInput {
                read = try ContentWriter.read(json: FileHandle.standardInput.readDataToEndOfFile())
            } else if let file = BundleFile(path: signature.file) {
                // Read a window at a time (not mapped: a file cut short while it is read would stop
                // the process, SIGBUS), and each case read from the file again when it is written:
                // the import holds neither the file's text nor its cases.
                read = try ContentWriter.read(file: file)
            } else {
                // Not a regular file (a pipe, `<(…)`): read whole.
                guard let handle = FileHandle(forReadingAtPath: signature.file), let data = try? handle.readToEnd() ?? Data() else {
                    throw CommandProblem(description: "Cannot read \(signature.file): no such file, or not readable.")
                }
                read = try ContentWriter.read(json: data)
            }
            let (summary, queued) = try await Self.importBundle(read, alerts: !signature.noAlerts, app: context.application)
            context.console.print("Imported: \(summary.created) created, \(summary.updated) updated, \(summary.unchanged) unchanged.")
            if queued > 0 { context.console.print("Queued \(queued) alert e-mail\(queued == 1 ? "" : "s") to followers.") }
        } catch let e as ValidationError {
            throw CommandProblem(description: describe(e))
        } catch let e as JSONParseError {
            throw CommandProblem(description: "Import refused, nothing was written: " + describe(e))
        } catch let e as BundleFile.Changed {
            throw CommandProblem(description: "Import refused, nothing was written: \(e)")
        } catch let e as VigilBundle.ReadAgainError {
            throw CommandProblem(description: "Import refused, nothing was written: \(e)")
        }
    }
}

struct ExportCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Option(name: "case", short: "c", help: "Export only this case (and the targets it names).")
        var caseID: String?
        @Option(name: "output", short: "o", help: "Write to this file instead of standard output.")
        var output: String?
    }
    var help: String {
        "Exports cases and targets as a vigil.bundle/1 JSON document (keys sorted, stable order), to standard output or a file."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let store = Store(db: context.application.db)
        let bundle: VigilBundle
        if let id = signature.caseID {
            if let p = Slug.problem(id) { throw CommandProblem(description: "--case \(p)") }
            guard try await CaseModel.find(id, on: context.application.db) != nil else {
                throw CommandProblem(description: "There is no case \"\(id)\".")
            }
            bundle = try await store.export(caseIDs: [id])
        } else {
            bundle = try await store.export()
        }
        let data = bundle.json.data()
        if let out = signature.output {
            do {
                try data.write(to: URL(fileURLWithPath: out), options: .atomic)
            } catch {
                throw CommandProblem(description: "Cannot write \(out): \(error.localizedDescription)")
            }
            context.console.print("Wrote \(bundle.cases.count) case(s) and \(bundle.targets.count) target(s) to \(out).")
        } else {
            FileHandle.standardOutput.write(data)
        }
    }
}

/// The demo bundle that ships with Vigil.
enum DemoData {
    static func bundleData() throws -> Data {
        let home = try VigilHome.current.get()
        guard let data = try? Data(contentsOf: home.dataFile("demo.json")) else {
            throw CommandProblem(description: "The demo bundle is missing: \(home.data)/demo.json cannot be read.")
        }
        return data
    }

    /// The day the demo was written: its open actions' deadlines are that many days after it.
    static let writtenOn = "2026-11-30"

    /// The demo as if written `today`: when its open actions' deadlines have passed, they move
    /// forward by the days since it was written, so that a demo loaded later still shows actions
    /// one can act on (and their pages, letters and report forms). On or before the day it was
    /// written (the tests pin that day with `VIGIL_TODAY`), nothing moves.
    static func current(_ bundle: VigilBundle, today: String) -> VigilBundle {
        guard let shift = Format.daysBetween(writtenOn, today), shift > 0 else { return bundle }
        var bundle = bundle
        for c in bundle.cases.indices {
            for u in bundle.cases[c].urgentActions.indices where bundle.cases[c].urgentActions[u].status == .open {
                let ua = bundle.cases[c].urgentActions[u]
                guard let deadline = UrgentAction.deadline(of: ua.documents), deadline.latest < today else { continue }
                bundle.cases[c].urgentActions[u].documents = ua.documents.map { d in
                    var d = d
                    if let old = d.takeAction?.deadline, let moved = Self.add(days: shift, to: old) { d.takeAction?.deadline = moved }
                    return d
                }
            }
        }
        return bundle
    }

    static func add(days: Int, to date: PartialDate) -> PartialDate? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard date.precision == .day, let day = date.day, let month = date.month,
              let start = calendar.date(from: DateComponents(year: date.year, month: month, day: day)),
              let moved = calendar.date(byAdding: .day, value: days, to: start) else { return nil }
        let c = calendar.dateComponents([.year, .month, .day], from: moved)
        return PartialDate(year: c.year!, month: c.month, day: c.day)
    }
}

struct DemoCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Flag(name: "if-empty", help: "Do nothing (and succeed) when the database already holds cases.")
        var ifEmpty: Bool
        @Option(name: "synthetic", help: "Instead of the demo: a deterministic synthetic archive of this many cases (1 to 100000).")
        var synthetic: Int?
        @Option(name: "seed", help: "With --synthetic: another archive of the same size (a whole number; default 20261201).")
        var seed: UInt64?
    }
    var help: String {
        "Loads the demo bundle (UA 126/19 and other cases, in English, Russian, Arabic, Chinese and Spanish) into an empty database. "
            + "`demo --synthetic N [--seed S]` loads instead a synthetic archive of N cases — people, timelines, three to five documents "
            + "each in several languages and scripts, officials, anonymous action reports — the same for the same N and seed: for "
            + "benchmarks, and to try Vigil at the size of a real archive."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let db = context.application.db
        let count = try await CaseModel.query(on: db).count()
        if count > 0 {
            if signature.ifEmpty {
                context.console.print("The database already holds \(count) case(s); demo data not loaded.")
                return
            }
            throw CommandProblem(description: "The database is not empty (\(count) case(s)); the demo loads only into an empty database.")
        }
        if let n = signature.synthetic {
            guard (1...100_000).contains(n) else { throw CommandProblem(description: "--synthetic takes a number of cases from 1 to 100000.") }
            let started = Date()
            let today = ActionClock.current.today()
            let json = SyntheticArchive.bundle(cases: n, seed: signature.seed ?? 20_261_201, today: today)
            let bundle = try VigilBundle.parse(Data(json.serialized(pretty: false).utf8))
            let summary = try await context.application.vigilServices.publisher
                .publish(.bundleValue(bundle), by: .commandLine, alerts: false, on: db).summary
            let reports = try await SyntheticArchive.addReports(seed: signature.seed ?? 20_261_201, on: db)
            context.console.print("Loaded a synthetic archive: \(n) cases, \(bundle.targets.count) officials (\(summary.created) records), "
                + "\(reports) action reports, in \(String(format: "%.1f", Date().timeIntervalSince(started))) s.")
            return
        }
        let bundle = DemoData.current(try VigilBundle.parse(try DemoData.bundleData()), today: ActionClock.current.today())
        // The demo's documents are old news: loading them alerts nobody.
        let summary = try await context.application.vigilServices.publisher
            .publish(.bundleValue(bundle), by: .commandLine, alerts: false, on: db).summary
        context.console.print("Loaded the demo: \(bundle.cases.count) cases, \(bundle.targets.count) targets (\(summary.created) records).")
    }
}

struct TokenCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "action", help: "create | list | revoke")
        var action: String
        @Option(name: "role", help: "For create: publisher (publishes) or admin.")
        var role: String?
        @Option(name: "label", help: "For create: a note to tell tokens apart (who or what uses it).")
        var label: String?
        @Option(name: "id", help: "For revoke: the token's id, as shown by list.")
        var id: String?
        @Option(name: "scope", help: "For create: read, write (cases, documents, targets) or import (bundles too; the default).")
        var scope: String?
        @Option(name: "days", help: "For create: days until the token expires (default VIGIL_TOKEN_DAYS, 90).")
        var days: Int?
    }
    var help: String {
        "Manages API tokens. `token create --role publisher [--scope read|write|import] [--days N] [--label L]` prints a new token "
            + "once (only its hash is stored); `token list` shows ids, roles, scopes, expiry and labels; `token revoke --id ID` revokes one."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let db = context.application.db
        switch signature.action {
        case "create":
            guard let role = signature.role, APIToken.roles.contains(role) else {
                throw CommandProblem(description: "Give --role publisher (a token that publishes) or --role admin.")
            }
            let scope = signature.scope ?? "import"
            guard APIToken.scopes.contains(scope) else { throw CommandProblem(description: "--scope is read, write or import.") }
            let days = signature.days ?? context.application.vigil.tokenLifetimeDays
            guard (1...3650).contains(days) else { throw CommandProblem(description: "--days is a number of days from 1 to 3650.") }
            let (token, id) = try await db.writeTransaction { db in
                let made = try await APIToken.create(role: role, scope: scope, days: days, label: signature.label, on: db)
                try await Audit.record("token.created", actor: .commandLine, subject: "token:" + made.id.uuidString.lowercased(),
                                       detail: ["role": role, "scope": scope, "days": String(days)], on: db)
                return made
            }
            context.application.securityLog.record("token.created", ["token": id.uuidString.lowercased(), "role": role, "scope": scope, "by": "cli"])
            context.console.print(token)
            context.console.output("Keep this token safe: it is shown only once.", style: .info, newLine: true)
        case "list":
            for t in try await APITokenModel.query(on: db).sort(\.$createdAt).all() {
                let state = t.revokedAt != nil ? "revoked" : (t.expiresAt.map { $0 <= Date() } ?? false) ? "expired" : "active"
                let expiry = t.expiresAt.map { "expires \(ISO8601DateFormatter().string(from: $0))" } ?? ""
                context.console.print("\(t.id!.uuidString)  \(t.role)  \(t.scope)  \(state)  \(expiry)  \(t.label ?? "")")
            }
        case "revoke":
            guard let raw = signature.id, let id = UUID(uuidString: raw) else {
                throw CommandProblem(description: "Give --id with a token id from `vigil token list`.")
            }
            try await db.writeTransaction { db in
                guard let t = try await APITokenModel.find(id, on: db) else {
                    throw CommandProblem(description: "There is no token \(raw).")
                }
                t.revokedAt = Date()
                try await t.update(on: db)
                try await Audit.record("token.revoked", actor: .commandLine, subject: "token:" + id.uuidString.lowercased(),
                                       detail: ["role": t.role], on: db)
            }
            context.application.securityLog.record("token.revoked", ["token": id.uuidString.lowercased(), "by": "cli"])
            context.console.print("Revoked \(raw).")
        default:
            throw CommandProblem(description: "Unknown action \"\(signature.action)\": use create, list or revoke.")
        }
    }
}

/// Renders one stored document to PDF or DOCX, optionally many times to time it.
struct RenderCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "document", help: "The document's id, e.g. ua-126-19-2-en.")
        var document: String
        @Option(name: "format", help: "pdf (default) or docx.")
        var format: String?
        @Option(name: "paper", help: "a4 (default) or letter.")
        var paper: String?
        @Option(name: "output", short: "o", help: "Write the file here.")
        var output: String?
        @Option(name: "repeat", help: "Render this many times and print the median and spread in milliseconds.")
        var repeatCount: Int?
        @Flag(name: "letter", help: "Render the document's appeal letter instead: to its first official, in the language the site's letter form chooses (the official's, when the model letter is translated into it), as that form makes it.")
        var letter: Bool
        @Option(name: "name", help: "With --letter: the name the letter is signed with (default: unsigned).")
        var name: String?
        @Option(name: "language", help: "With --letter: the letter's language, one the model letter is translated into (default: as the site's form chooses).")
        var language: String?
    }
    var help: String {
        "Renders a stored document, or with --letter its appeal letter, as PDF or DOCX to a file; with --repeat N, times the rendering (used by bench/)."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let app = context.application
        let format = signature.format ?? "pdf"
        guard format == "pdf" || format == "docx" else { throw CommandProblem(description: "--format is pdf or docx.") }
        guard let paper = PaperSize(rawValue: signature.paper ?? "a4") else { throw CommandProblem(description: "--paper is a4 or letter.") }
        if let p = Slug.problem(signature.document) { throw CommandProblem(description: "document \(p)") }
        let repeats = signature.repeatCount ?? 1
        guard (1...10_000).contains(repeats) else { throw CommandProblem(description: "--repeat is 1 to 10000.") }
        // The same loader and assembler as the served download: the file is the one the site serves.
        guard let stored = try await DocumentData.load(id: signature.document, on: app.db) else {
            throw CommandProblem(description: "There is no document \"\(signature.document)\".")
        }
        let render: () throws -> Data
        if signature.letter {
            let letter = try Self.letter(stored, name: signature.name, language: signature.language, baseURL: app.vigil.baseURL)
            render = { format == "pdf" ? try PDFRenderer.render(letter: letter, options: .init(paper: paper)) : try DOCXRenderer.render(letter: letter) }
        } else {
            guard signature.name == nil else { throw CommandProblem(description: "--name is for --letter.") }
            guard signature.language == nil else { throw CommandProblem(description: "--language is for --letter (a document's translation has an id of its own).") }
            let printable = stored.printable(baseURL: app.vigil.baseURL, catalogue: app.vigilServices.catalogue)
            render = { format == "pdf" ? try PDFRenderer.render(printable, options: .init(paper: paper)) : try DOCXRenderer.render(printable) }
        }
        var times: [Double] = []
        var data = Data()
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            data = try render()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
        }
        if let out = signature.output {
            try data.write(to: URL(fileURLWithPath: out))
        }
        if signature.repeatCount != nil {
            times.sort()
            let median = times[times.count / 2]
            context.console.print(String(format: "renders=%d median_ms=%.3f min_ms=%.3f max_ms=%.3f bytes=%d", times.count, median, times.first!, times.last!, data.count))
        } else if signature.output == nil {
            FileHandle.standardOutput.write(data)
        }
    }

    /// The letter the site's form makes with no choices but the name and language: to the
    /// document's first official (or whoever holds the office today), in `language` or the one
    /// the form chooses for that official, dated today.
    static func letter(_ stored: DocumentData, name: String?, language: String? = nil, baseURL: String) throws -> AppealLetter {
        guard let target = stored.addressees(today: ActionClock.current.today()).first?.writeTo else {
            throw CommandProblem(description: "The document \"\(stored.document.id)\" asks for no letters: it names no officials.")
        }
        let name = name?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let name {
            guard name.count <= 80 else { throw CommandProblem(description: "--name is at most 80 characters, as on the site's letter form.") }
            if let problem = DisplayName.problem(name) { throw CommandProblem(description: "--name \(problem).") }
        }
        let versions = LetterLanguage.versions(of: stored.document, in: stored.chain)
        guard let version = LetterLanguage.version(of: stored.document, among: versions, for: target, asked: language) else {
            let offered = versions.map(\.language).joined(separator: ", ")
            throw CommandProblem(description: offered.isEmpty ? "--language: the document has no model letter to choose a language of."
                                                              : "--language is one of the languages of the model letter: \(offered).")
        }
        return AppealLetter(number: stored.number, document: version, target: target, senderName: name?.isEmpty == false ? name : nil,
                            senderTown: nil, initialsOnly: false, date: PartialDate(Date()), url: baseURL + stored.path)
    }
}

/// Prints the reference of template values (`docs/theming.md` holds it).
struct TemplatesCommand: AsyncCommand {
    struct Signature: CommandSignature {}
    var help: String { "Prints, for every page template, the values it can use, generated from the page models (the reference in docs/theming.md)." }

    func run(using context: CommandContext, signature: Signature) async throws {
        FileHandle.standardOutput.write(Data(try Pages.reference().utf8))
    }
}
