import Fluent
import Foundation
import Vapor

/// `vigil audit verify | export`: prove the audit log's chain intact, or write it out as CSV.
struct AuditCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "action", help: "verify | export")
        var action: String
        @Option(name: "from", help: "For export: entries from this day on (YYYY-MM-DD, UTC).")
        var from: String?
        @Option(name: "to", help: "For export: entries up to the end of this day (YYYY-MM-DD, UTC).")
        var to: String?
        @Option(name: "action-prefix", help: "For export: only actions starting so (login. , token.created).")
        var actionPrefix: String?
        @Option(name: "actor", help: "For export: only this account's or token's id, or cli / system.")
        var actor: String?
        @Option(name: "subject", help: "For export: only this subject (case:ID, account:UUID, …).")
        var subject: String?
        @Option(name: "output", short: "o", help: "For export: write the CSV to this file instead of standard output.")
        var output: String?
        @Option(name: "noted", help: "For verify: a head hash noted earlier; the chain must still pass through it.")
        var noted: String?
    }

    var help: String {
        "Checks or exports the audit log. `audit verify` walks the hash chain from the first entry to the head and prints "
            + "\"N entries, chain intact, head <hash>\" (note the head hash elsewhere: a later verify proves the log up to it "
            + "unchanged), or exits non-zero naming the first entry altered, missing or out of place, or a head that does not "
            + "match; with --noted HASH (a head printed by an earlier verify), also that the chain still passes through it. `audit export [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--action-prefix P] [--actor ID] [--subject S] "
            + "[--output FILE]` writes the entries as CSV, oldest first."
    }

    func run(using context: CommandContext, signature: Signature) async throws {
        let db = context.application.db
        switch signature.action {
        case "verify":
            let result = try await Audit.verify(on: db)
            guard result.isIntact else {
                throw CommandProblem(description: "The audit log is broken at " + result.description
                                     + " (\(result.entries) entries before it are intact).")
            }
            if let noted = signature.noted?.lowercased() {
                // The chain is intact, so an entry with this hash proves every entry up to it unchanged.
                guard let entry = try await AuditEntryModel.query(on: db).filter(\.$hash == noted).first() else {
                    throw CommandProblem(description: "The audit log no longer passes through the noted head \(noted): "
                                         + "it was rewritten or rolled back (\(result.description)).")
                }
                context.console.print("The noted head is entry \(entry.seq): the \(entry.seq) entries up to it are unchanged.")
            }
            context.console.print(result.description)
        case "export":
            let filter = Audit.Filter(actionPrefix: signature.actionPrefix, actor: signature.actor?.lowercased(), subject: signature.subject,
                                      from: signature.from, to: signature.to)
            if let bad = filter.problems.first {
                throw CommandProblem(description: "--\(bad == "action" ? "action-prefix" : bad) is not valid: "
                                     + (bad == "from" || bad == "to" ? "give a day as YYYY-MM-DD." : "see `vigil audit --help`."))
            }
            let out: FileHandle
            if let path = signature.output {
                guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                    throw CommandProblem(description: "Cannot write \(path).")
                }
                out = h
            } else {
                out = FileHandle.standardOutput
            }
            let count = try await Self.export(filter, on: db) { out.write(Data($0.utf8)) }
            if signature.output != nil { try? out.close() }
            try await db.writeTransaction { db in
                try await Audit.record("audit.exported", actor: .commandLine, detail: ["entries": String(count)], on: db)
            }
            if let path = signature.output { context.console.print("Wrote \(count) audit log entr\(count == 1 ? "y" : "ies") to \(path).") }
        default:
            throw CommandProblem(description: "Unknown action \"\(signature.action)\": use verify or export.")
        }
    }

    /// Writes the header and every matching entry as CSV, oldest first; returns how many entries.
    static func export(_ filter: Audit.Filter, on db: any Database, write: (String) -> Void) async throws -> Int {
        write(Audit.csvLine(Audit.csvHeader))
        var count = 0
        try await Audit.forEach(filter, on: db) { page in
            write(page.map(Audit.csvRow).joined())
            count += page.count
        }
        return count
    }
}
