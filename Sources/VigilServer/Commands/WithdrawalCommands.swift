import Fluent
import Foundation
import Vapor
import VigilCore

/// `vigil withdraw | republish | redact`: withdrawal for safety from the server's command line,
/// through the one publishing path (`Publisher`, `Withdrawal`).
func registerWithdrawalCommands(_ app: Application) {
    app.asyncCommands.use(WithdrawCommand(), as: "withdraw")
    app.asyncCommands.use(RepublishCommand(), as: "republish")
    app.asyncCommands.use(RedactCommand(), as: "redact")
}

/// `126/19`, `UA 126/19` or `126-19`.
func parseUANumber(_ raw: String) throws -> UANumber {
    var s = raw.trimmingCharacters(in: .whitespaces)
    if s.uppercased().hasPrefix("UA ") { s = String(s.dropFirst(3)) }
    guard let n = UANumber(s) ?? UANumber(slug: s) else {
        throw CommandProblem(description: "\"\(raw)\" is not an urgent action number; write it as 126/19.")
    }
    return n
}

/// Runs a withdrawal change, turning refusals into messages for the console.
func publishWithdrawal(_ change: Publisher.Change, app: Application) async throws -> Publisher.Result {
    do {
        return try await app.vigilServices.publisher.publish(change, by: .commandLine, on: app.db)
    } catch let e as ValidationError {
        throw CommandProblem(description: e.issues.map { "\($0.path.replacingOccurrences(of: "$.", with: "--")) \($0.message)" }.joined(separator: "\n"))
    } catch let e as PublishingRefusal {
        throw CommandProblem(description: e.reason)
    }
}

struct WithdrawCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "number", help: "The urgent action, such as 126/19.")
        var number: String
        @Option(name: "reason", help: "Why (required; at most 500 characters; kept internal, never shown publicly).")
        var reason: String?
    }
    var help: String {
        "Withdraws an urgent action for safety — all its documents and translations: it leaves the site, the feeds, the "
            + "sitemap, search, the packs and the API at once, and its addresses answer 410 with a neutral notice. "
            + "Undo with `vigil republish NUMBER`; while withdrawn it can be redacted with `vigil redact`."
    }
    func run(using context: CommandContext, signature: Signature) async throws {
        let number = try parseUANumber(signature.number)
        let reason = try Withdrawal.checkReason(signature.reason, path: "--reason")
        _ = try await publishWithdrawal(.withdraw(number, reason: reason), app: context.application)
        context.console.print("Withdrew \(number.label) and all its documents.")
    }
}

struct RepublishCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "number", help: "The withdrawn urgent action, such as 126/19.")
        var number: String
    }
    var help: String { "Republishes a withdrawn urgent action, as it now is (redacted or not)." }
    func run(using context: CommandContext, signature: Signature) async throws {
        let number = try parseUANumber(signature.number)
        _ = try await publishWithdrawal(.republish(number), app: context.application)
        context.console.print("Republished \(number.label).")
    }
}

struct RedactCommand: AsyncCommand {
    struct Signature: CommandSignature {
        @Argument(name: "number", help: "The withdrawn urgent action, such as 126/19.")
        var number: String
        @Option(name: "from", help: "The text to replace, such as a person's name (required).")
        var from: String?
        @Option(name: "to", help: "What replaces it (default: [name withheld]).")
        var to: String?
    }
    var help: String {
        "Replaces a text (a person's name) in every stored copy of a withdrawn urgent action and its case: documents and "
            + "translations, people, timeline, replies, queued mail, the search index and cached renders. Refused while the "
            + "action is published. The audit log records that a redaction happened, without the text."
    }
    func run(using context: CommandContext, signature: Signature) async throws {
        let number = try parseUANumber(signature.number)
        let (from, to) = try Withdrawal.checkRedaction(from: signature.from, to: signature.to ?? "[name withheld]")
        _ = try await publishWithdrawal(.redact(number, from: from, to: to), app: context.application)
        context.console.print("Redacted \(number.label).")
    }
}
