import Fluent
import Foundation
import VigilCore

/// Composes the e-mail Vigil sends to supporters, each in the language the supporter chose, and
/// queues it in the outbox inside the caller's transaction.
struct Mailer: Sendable {
    let catalogue: Catalogue
    let mailFrom: String

    /// A message made of two catalogue entries, `mail_{key}_subject` and `mail_{key}_text`.
    /// `supporter`: the account the message is about, so that erasing the account erases its mail
    /// to every address it ever had.
    func enqueue(_ key: String, to address: String, language: String?, values: [String: String], supporter: UUID? = nil,
                 on db: any Database) async throws {
        let t = catalogue.strings(for: language)
        try await Outbox.enqueue(to: address, subject: t.format("mail_\(key)_subject", values),
                                 text: t.format("mail_\(key)_text", values), html: nil,
                                 headers: [("Content-Language", t.language)], from: mailFrom, supporter: supporter, on: db)
    }

    /// A whole HTML document for the HTML alternative: `lang` and `dir` of the message's language.
    static func htmlDocument(language: String, title: String, body: String) -> String {
        let dir = LanguageTag.isRightToLeft(language) ? "rtl" : "ltr"
        return "<!DOCTYPE html><html lang=\"\(HTML.escape(language))\" dir=\"\(dir)\"><head><meta charset=\"utf-8\"><title>"
            + HTML.escape(title) + "</title></head><body>" + body + "</body></html>"
    }
}
