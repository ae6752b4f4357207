import Crypto
import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// Following a case, a country or a theme; alert e-mails when an update or outcome is published;
/// one-click unsubscribe (RFC 8058).
struct FollowController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.followForm, use: form)
        r.on(.follow, use: follow)
        r.on(.removeFollow, use: remove)
        r.on(.unsubscribeForm, use: unsubscribeForm)
        r.on(.unsubscribe, use: unsubscribe)
    }

    static func subject(_ req: Request) throws -> FollowSubject {
        for kind in ["case", "country", "theme"] {
            if let v = req.query[String.self, at: kind] ?? (try? req.content.get(String.self, at: kind)) {
                guard let s = FollowSubject(kind: kind, value: v) else { throw Abort(.badRequest, reason: "Unknown \(kind) \"\(v)\".") }
                return s
            }
        }
        throw Abort(.badRequest, reason: "Say what to follow: a case, a country or a theme.")
    }

    var pages: PrivatePage { PrivatePage(views: views, strings: strings, auth: auth) }

    func form(req: Request) async throws -> Response {
        let subject = try Self.subject(req)
        guard let me = req.currentSession else {
            return req.redirect(to: Endpoint.loginForm.path)
        }
        let page = try await FollowPage.load(subject, language: me.supporter.language, on: req.db, catalogue: catalogue)
        return try pages.render(req, "follow", title: strings["follow_title"], content: page)
    }

    func follow(req: Request) async throws -> Response {
        guard let me = req.currentSession else { throw Abort.redirect(to: Endpoint.loginForm.path) }
        try auth.checkCSRF(req, token: try req.content.decode(AccountController.CSRFForm.self).csrf)
        let subject = try Self.subject(req)
        _ = try await FollowPage.label(subject, on: req.db)  // 404 for a case that does not exist
        let frequency = (try? req.content.get(String.self, at: "frequency")) ?? "each"
        guard frequency == "each" || frequency == "weekly" else { throw Abort(.badRequest, reason: "Frequency is \"each\" or \"weekly\".") }
        let language = (try? req.content.get(String.self, at: "language")) ?? me.supporter.language
        guard catalogue.contains(language) else { throw Abort(.unprocessableEntity, reason: strings["language_bad"]) }
        try await req.db.writeTransaction { db in
            // Following again changes how and in which language; it never makes a second follow.
            let f = try await FollowModel.query(on: db).filter(\.$supporterID == me.supporter.id!)
                .filter(\.$subjectKind == subject.kind).filter(\.$subjectValue == subject.value).first() ?? FollowModel()
            if f.id == nil {
                f.supporterID = me.supporter.id!; f.subjectKind = subject.kind; f.subjectValue = subject.value; f.createdAt = Date()
            }
            f.digest = frequency == "weekly"
            f.language = language
            try await f.save(on: db)
        }
        return req.redirect(to: Endpoint.account.path, redirectType: .normal)
    }

    func remove(req: Request) async throws -> Response {
        guard let me = req.currentSession else { throw Abort.redirect(to: Endpoint.loginForm.path) }
        try auth.checkCSRF(req, token: try req.content.decode(AccountController.CSRFForm.self).csrf)
        guard let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)) else { throw Abort(.notFound) }
        try await req.db.writeTransaction { db in
            try await FollowModel.query(on: db).filter(\.$id == id).filter(\.$supporterID == me.supporter.id!).delete()
        }
        return req.redirect(to: Endpoint.account.path, redirectType: .normal)
    }

    // MARK: Unsubscribe (no log-in, no CSRF: the signed token is the authority)

    static func unsubscribeToken(follow: UUID, secret: ServerSecret) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(follow.uuidString.utf8), using: secret.key(for: "unsubscribe"))
        let sig = Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "\(follow.uuidString).\(sig)"
    }

    func followID(_ token: String?) -> UUID? {
        guard let token, token.count < 200 else { return nil }
        let parts = token.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let id = UUID(uuidString: parts[0]) else { return nil }
        let expected = Data(Self.unsubscribeToken(follow: id, secret: secret).utf8)
        guard auth.constantTimeEqual(expected, Data(token.utf8)) else { return nil }
        return id
    }

    func unsubscribeForm(req: Request) async throws -> Response {
        let token = req.query[String.self, at: "token"]
        guard let token, let id = followID(token) else {
            return try pages.message(req, title: strings["verify_bad_title"], text: strings["unsubscribe_bad"], status: .badRequest)
        }
        let page = try await UnsubscribePage.load(token: token, follow: id, on: req.db)
        return try pages.render(req, "unsubscribe", title: strings["unsubscribe_title"], content: page)
    }

    /// RFC 8058 one-click: mail clients POST `List-Unsubscribe=One-Click` to the link itself.
    func unsubscribe(req: Request) async throws -> Response {
        let token = req.query[String.self, at: "token"] ?? (try? req.content.get(String.self, at: "token"))
        guard let id = followID(token) else { throw Abort(.badRequest, reason: strings["unsubscribe_bad"]) }
        try await req.db.writeTransaction { db in try await FollowModel.query(on: db).filter(\.$id == id).delete() }
        return try pages.message(req, title: strings["unsubscribe_done"], text: strings["unsubscribe_done_text"])
    }
}

/// Queues the alert e-mails for a newly published update or outcome, in the publishing transaction.
/// Each alert is in the language of the follow (or the supporter), and carries the document's
/// translation into that language when one is stored.
struct Alerts: Sendable {
    let catalogue: Catalogue
    let baseURL: String
    let mailFrom: String
    let secret: ServerSecret

    /// Alerts for every document a publishing write created.
    @discardableResult
    func enqueue(createdDocuments ids: [String], on db: any Database) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        var sent = 0
        for stored in try await Store(db: db).documents(ids: ids) {
            guard let ua = try await UrgentActionModel.find(stored.uaID, on: db), let number = UANumber(ua.number) else { continue }
            sent += try await enqueue(document: stored.document, number: number, caseID: ua.caseID, on: db)
        }
        return sent
    }

    func enqueue(document doc: Document, number: UANumber, caseID: String, on db: any Database) async throws -> Int {
        // Originals only: a translation of something already announced is no news.
        guard doc.translationOf == nil else { return 0 }
        let countries = try await CaseCountryModel.query(on: db).filter(\.$caseID == caseID).all().map(\.country)
        let themes = try await CaseThemeModel.query(on: db).filter(\.$caseID == caseID).all().map(\.theme)
        var follows = try await FollowModel.query(on: db).filter(\.$subjectKind == "case").filter(\.$subjectValue == caseID).all()
        if !countries.isEmpty { follows += try await FollowModel.query(on: db).filter(\.$subjectKind == "country").filter(\.$subjectValue ~~ countries).all() }
        if !themes.isEmpty { follows += try await FollowModel.query(on: db).filter(\.$subjectKind == "theme").filter(\.$subjectValue ~~ themes).all() }
        // One message per supporter, unsubscribing from the follow that brought it (the case follow
        // first). Digest follows bring none: those supporters hear of it in their weekly digest.
        var bySupporter: [UUID: FollowModel] = [:]
        for f in follows where !f.digest && bySupporter[f.supporterID] == nil { bySupporter[f.supporterID] = f }
        guard !bySupporter.isEmpty else { return 0 }
        let supporters = try await SupporterModel.query(on: db).filter(\.$id ~~ Array(bySupporter.keys)).all()
        let translations = try await DocumentModel.query(on: db).filter(\.$translationOf == doc.id).all()
        var sent = 0
        for s in supporters where s.emailVerifiedAt != nil {
            guard let follow = bySupporter[s.id!] else { continue }
            let t = catalogue.strings(for: follow.language ?? s.language)
            // The document in the reader's language when we have it, else the original.
            let shown = Self.translation(in: t.language, among: translations)
            let title = shown?.title ?? doc.title, summary = shown.map { $0.summary ?? "" } ?? doc.summary ?? ""
            let docLanguage = shown?.language ?? doc.language
            let url = baseURL + Endpoint.document(number, kind: doc.kind, sequence: doc.sequence, language: docLanguage, isTranslation: shown != nil).path
            let unsubscribe = baseURL + Endpoint.withToken(.unsubscribe, FollowController.unsubscribeToken(follow: follow.id!, secret: secret)).path
            let kindLabel = t["kind_\(doc.kind.rawValue)"]
            let subject = "\(kindLabel) \(number.label): \(title)"
            let text = t.format("mail_alert_text", ["name": s.displayName, "kind": kindLabel, "number": number.label, "title": title,
                                                    "summary": summary, "url": url, "unsubscribe": unsubscribe])
            let docDir = LanguageTag.isRightToLeft(docLanguage) ? "rtl" : "ltr"
            let body = "<p>" + HTML.escape(t.format("mail_alert_intro", ["name": s.displayName])) + "</p>"
                + "<h1>" + HTML.escape(kindLabel + " " + number.label) + ": <span lang=\"\(HTML.escape(docLanguage))\" dir=\"\(docDir)\">"
                + HTML.escape(title) + "</span></h1>"
                + (summary.isEmpty ? "" : "<p lang=\"\(HTML.escape(docLanguage))\" dir=\"\(docDir)\">" + HTML.escape(summary) + "</p>")
                + "<p><a href=\"" + HTML.escape(url) + "\">" + HTML.escape(t["mail_alert_read"]) + "</a></p>"
                + "<p><small>" + HTML.escape(t.format("mail_why", ["site": baseURL])) + " <a href=\"" + HTML.escape(unsubscribe) + "\">"
                + HTML.escape(t["unsubscribe_title"]) + "</a></small></p>"
            try await Outbox.enqueue(to: s.email, subject: subject, text: text,
                                     html: Mailer.htmlDocument(language: t.language, title: subject, body: body),
                                     headers: [("List-Unsubscribe", "<\(unsubscribe)>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                                               ("Content-Language", t.language)],
                                     from: mailFrom, supporter: s.id, on: db)
            sent += 1
        }
        return sent
    }

    /// The translation in `language` (exactly, or by its primary subtag: "fr" finds "fr-CA"), if any.
    static func translation(in language: String, among translations: [DocumentModel]) -> DocumentModel? {
        translations.first { $0.language == language }
            ?? translations.first { $0.language.split(separator: "-").first.map(String.init) == language }
    }
}


/// The weekly digest: for each supporter with digest follows, one e-mail listing the original
/// documents published on what they follow since their last digest (at most one a week).
enum Digests {
    @discardableResult
    static func send(now: Date = Date(), on db: any Database, catalogue: Catalogue, baseURL: String, mailFrom: String,
                     secret: ServerSecret) async throws -> Int {
        let week: TimeInterval = 7 * 86_400
        let follows = try await FollowModel.query(on: db).filter(\.$digest == true).all()
        let bySupporter = Dictionary(grouping: follows, by: \.supporterID)
        var sent = 0
        for (supporterID, theirs) in bySupporter {
            guard let s = try await SupporterModel.find(supporterID, on: db), s.emailVerifiedAt != nil else { continue }
            let since = s.lastDigestAt ?? theirs.map(\.createdAt).min() ?? now.addingTimeInterval(-week)
            guard now.timeIntervalSince(s.lastDigestAt ?? .distantPast) >= week else { continue }
            // Cases followed directly, or through their countries and themes.
            var caseIDs = Set(theirs.filter { $0.subjectKind == "case" }.map(\.subjectValue))
            let countries = theirs.filter { $0.subjectKind == "country" }.map(\.subjectValue)
            let themes = theirs.filter { $0.subjectKind == "theme" }.map(\.subjectValue)
            if !countries.isEmpty { caseIDs.formUnion(try await CaseCountryModel.query(on: db).filter(\.$country ~~ countries).all().map(\.caseID)) }
            if !themes.isEmpty { caseIDs.formUnion(try await CaseThemeModel.query(on: db).filter(\.$theme ~~ themes).all().map(\.caseID)) }
            guard !caseIDs.isEmpty else { continue }
            let uas = try await UrgentActionModel.query(on: db).filter(\.$caseID ~~ Array(caseIDs)).all()
            guard !uas.isEmpty else { continue }
            let docs = try await DocumentModel.query(on: db).filter(\.$urgentActionID ~~ uas.compactMap(\.id))
                .filter(\.$createdAt > since).filter(\.$translationOf == nil).sort(\.$published).all()
            try await db.writeTransaction { db in
                if let row = try await SupporterModel.find(supporterID, on: db) { row.lastDigestAt = now; try await row.update(on: db) }
            }
            guard !docs.isEmpty else { continue }
            let strings = catalogue.strings(for: theirs.compactMap(\.language).first ?? s.language)
            let numberOf = Dictionary(uniqueKeysWithValues: uas.map { ($0.id!, $0.number) })
            // Each document in the reader's language when a translation is stored (by now, a week on, it often is).
            let translations = Dictionary(grouping: try await DocumentModel.query(on: db).filter(\.$translationOf ~~ docs.compactMap(\.id)).all(),
                                          by: { $0.translationOf ?? "" })
            let lines = docs.compactMap { d -> String? in
                guard let raw = numberOf[d.urgentActionID], let n = UANumber(raw), let kind = DocumentKind(rawValue: d.kind) else { return nil }
                let shown = Alerts.translation(in: strings.language, among: translations[d.id ?? ""] ?? [])
                let url = baseURL + Endpoint.document(n, kind: kind, sequence: d.sequence, language: shown?.language ?? d.language,
                                                       isTranslation: shown != nil).path
                return "- \(strings["kind_\(kind.rawValue)"]) \(n.label): \(shown?.title ?? d.title)\n  \(url)"
            }
            let unsubscribe = baseURL + Endpoint.withToken(.unsubscribe, FollowController.unsubscribeToken(follow: theirs[0].id!, secret: secret)).path
            let text = strings.format("mail_digest_text", ["name": s.displayName, "items": lines.joined(separator: "\n\n"), "account": baseURL + Endpoint.account.path,
                                                           "unsubscribe": unsubscribe])
            _ = try await db.writeTransaction { db in
                try await Outbox.enqueue(to: s.email, subject: strings.format("mail_digest_subject", ["n": String(lines.count)]), text: text, html: nil,
                                         headers: [("List-Unsubscribe", "<\(unsubscribe)>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                                                   ("Content-Language", strings.language)],
                                         from: mailFrom, supporter: s.id, on: db)
            }
            sent += 1
        }
        return sent
    }
}
