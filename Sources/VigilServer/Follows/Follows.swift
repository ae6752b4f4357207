import Crypto
import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// Following a case, a country or a theme; alert e-mails when an update or outcome is published;
/// one-click unsubscribe (RFC 8058). `/follow?case=…` is the personal page the public pages link
/// to: logged in, it follows (or says "Following — stop"); logged out, a case is followed with
/// an e-mail address alone, confirmed by a mailed link (`EmailFollows`).
struct FollowController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        r.on(.followForm, use: form)
        r.on(.follow, use: follow)
        r.on(.removeFollow, use: remove)
        r.on(.unsubscribeForm, use: unsubscribeForm)
        r.on(.unsubscribe, use: unsubscribe)
        r.on(.followConfirmForm, use: confirmForm)
        r.on(.followConfirm, use: confirm)
        r.on(.followData, use: dataPage)
        r.on(.followDataExport, use: dataExport)
        r.on(.followDataDelete, use: dataDelete)
    }

    static func subject(_ req: Request) throws -> FollowSubject {
        for kind in ["case", "country", "theme"] {
            if let v = req.query[String.self, at: kind] ?? (try? req.content.get(String.self, at: kind)) {
                guard let s = FollowSubject(kind: kind, value: v) else { throw Refusal(.badRequest, "refusal_unknown_subject", ["kind": "\(kind)", "value": "\(v)"]) }
                return s
            }
        }
        throw Refusal(.badRequest, "refusal_say_what_follow_case_country")
    }

    var pages: PrivatePage { PrivatePage(views: views, strings: strings, auth: auth) }
    var emailFollows: EmailFollows { EmailFollows(services: services) }

    func form(req: Request) async throws -> Response {
        let subject = try Self.subject(req)
        guard let me = req.currentSession else {
            // Without an account only a case can be followed (by e-mail); a country or a theme needs one.
            guard case .case = subject else { return req.redirect(to: Endpoint.login(next: Endpoint.follow(subject).path).path) }
            let page = try await FollowPage.load(subject, language: req.answerLanguage,
                                                 following: nil, on: req.db, catalogue: catalogue, strings: strings)
            return try pages.render(req, "follow", title: strings["follow_title"], content: page)
        }
        let existing = try await Self.existing(me.supporter.id!, subject, on: req.db)
        let page = try await FollowPage.load(subject, language: existing?.language ?? me.supporter.language, following: existing,
                                             email: me.supporter.email, on: req.db, catalogue: catalogue, strings: strings)
        return try pages.render(req, "follow", title: strings["follow_title"], content: page)
    }

    static func existing(_ supporter: UUID, _ subject: FollowSubject, on db: any Database) async throws -> FollowModel? {
        try await FollowModel.query(on: db).filter(\.$supporterID == supporter)
            .filter(\.$subjectKind == subject.kind).filter(\.$subjectValue == subject.value).first()
    }

    /// Follows `subject` for an account: following again changes how and in which language, and
    /// never makes a second follow. The consent is recorded with the notice's version.
    static func follow(_ subject: FollowSubject, supporter: UUID, digest: Bool, language: String, consentText: String,
                       on db: any Database) async throws {
        try await db.writeTransaction { db in
            let f = try await existing(supporter, subject, on: db) ?? FollowModel()
            if f.id == nil {
                f.supporterID = supporter; f.subjectKind = subject.kind; f.subjectValue = subject.value; f.createdAt = Date()
            }
            f.digest = digest
            f.language = language
            f.consentText = consentText; f.consentVersion = PrivacyNotice.version; f.consentAt = Date()
            try await f.save(on: db)
        }
    }

    struct EmailForm: Content { var csrf: String?; var email: String?; var language: String?; var consent: String? }

    func follow(req: Request) async throws -> Response {
        guard let me = req.currentSession else { return try await followByEmail(req) }
        try auth.checkCSRF(req, token: try req.content.decode(AccountController.CSRFForm.self).csrf)
        let subject = try Self.subject(req)
        _ = try await FollowPage.label(subject, on: req.db)  // 404 for a case that does not exist
        let frequency = (try? req.content.get(String.self, at: "frequency")) ?? "each"
        guard frequency == "each" || frequency == "weekly" else { throw Refusal(.badRequest, "refusal_frequency_each_weekly") }
        let language = (try? req.content.get(String.self, at: "language")) ?? me.supporter.language
        guard catalogue.contains(language) else { throw Abort(.unprocessableEntity, reason: strings["language_bad"]) }
        try await Self.follow(subject, supporter: me.supporter.id!, digest: frequency == "weekly", language: language,
                              consentText: strings[EmailFollows.consentKey], on: req.db)
        // The personal page now says "You are following …" and offers to stop.
        return req.redirect(to: Endpoint.follow(subject).path, redirectType: .normal)
    }

    /// Logged out: a case followed with an e-mail address alone. The answer is the same whether
    /// or not the address is known, or over its limit.
    func followByEmail(_ req: Request) async throws -> Response {
        let form = try req.content.decode(EmailForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let subject = try Self.subject(req)
        guard case .case(let caseID) = subject else { throw Abort.redirect(to: Endpoint.login(next: Endpoint.follow(subject).path).path) }
        let label = try await FollowPage.label(subject, on: req.db)
        let email = AccountController.normalisedEmail(form.email) ?? ""
        let language = form.language ?? "en"
        var errors: [String] = []
        if email.isEmpty || EmailAddress.problem(email) != nil { errors.append(strings["follow_email_bad"]) }
        if !catalogue.contains(language) { errors.append(strings["language_bad"]) }
        if form.consent != "1" { errors.append(strings["follow_consent_missing"]) }
        guard errors.isEmpty else {
            var page = try await FollowPage.load(subject, language: catalogue.contains(language) ? language : "en", following: nil,
                                                 on: req.db, catalogue: catalogue, strings: strings)
            page.errors = errors
            page.email = String((form.email ?? "").prefix(254))
            return try pages.render(req, "follow", title: strings["follow_title"], status: .unprocessableEntity, content: page)
        }
        try await emailFollows.start(email: email, caseID: caseID, caseTitle: label, language: language,
                                     consentText: strings[EmailFollows.consentKey], req: req)
        return try pages.message(req, title: strings["follow_check_title"], text: strings.format("follow_check_text", ["email": email]),
                                 next: LabelledLink(href: Endpoint.kase(caseID).path, label: strings["follow_back_to_case"]))
    }

    func remove(req: Request) async throws -> Response {
        guard let me = req.currentSession else { throw Abort.redirect(to: Endpoint.loginForm.path) }
        try auth.checkCSRF(req, token: try req.content.decode(AccountController.CSRFForm.self).csrf)
        guard let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)) else { throw Abort(.notFound) }
        try await req.db.writeTransaction { db in
            try await FollowModel.query(on: db).filter(\.$id == id).filter(\.$supporterID == me.supporter.id!).delete()
        }
        // From the personal follow page, back to it; from the account, back there.
        if let subject = try? Self.subject(req) { return req.redirect(to: Endpoint.follow(subject).path, redirectType: .normal) }
        return req.redirect(to: Endpoint.account.path, redirectType: .normal)
    }

    // MARK: Confirming an e-mail follow (a page with a button: a mail scanner confirms nothing)

    func confirmForm(req: Request) async throws -> Response {
        let token = req.query[String.self, at: "token"] ?? ""
        guard !token.isEmpty, token.count < 200 else {
            return try pages.message(req, title: strings["verify_bad_title"], text: strings["follow_confirm_bad"], status: .badRequest)
        }
        return try pages.render(req, "confirm", title: strings["follow_confirm_title"], content: ConfirmPage(
            heading: strings["follow_confirm_title"], text: strings["follow_confirm_text"], action: Endpoint(.followConfirm).path,
            token: token, button: strings["follow_confirm_button"]))
    }

    func confirm(req: Request) async throws -> Response {
        let form = try req.content.decode(AccountController.TokenForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let f = try await EmailFollows.confirm(token: form.token, on: req.db) else {
            return try pages.message(req, title: strings["verify_bad_title"], text: strings["follow_confirm_bad"], status: .badRequest)
        }
        let label = (try? await FollowPage.label(.case(f.caseID), on: req.db)) ?? f.caseID
        return try pages.message(req, title: strings["follow_done_title"],
                                 text: strings.format("follow_done_email", ["case": label, "email": f.email]),
                                 next: LabelledLink(href: Endpoint.kase(f.caseID).path, label: strings["follow_back_to_case"]))
    }

    // MARK: Unsubscribe (no log-in, no CSRF: the signed token is the authority)

    static func unsubscribeToken(follow: UUID, secret: ServerSecret) -> String {
        EmailFollows.sign(follow, purpose: "unsubscribe", secret: secret)
    }

    /// The follow a token names: an account's (`UUID.sig`) or an e-mail follow's (`e.UUID.sig`).
    enum Unsubscribing { case account(UUID), email(UUID) }

    func followID(_ token: String?) -> Unsubscribing? {
        guard let token, token.count < 200 else { return nil }
        if token.hasPrefix("e.") {
            return EmailFollows.verify(String(token.dropFirst(2)), purpose: "unsubscribe-email", secret: secret).map(Unsubscribing.email)
        }
        return EmailFollows.verify(token, purpose: "unsubscribe", secret: secret).map(Unsubscribing.account)
    }

    func unsubscribeForm(req: Request) async throws -> Response {
        let token = req.query[String.self, at: "token"]
        guard let token, let which = followID(token) else {
            return try pages.message(req, title: strings["verify_bad_title"], text: strings["unsubscribe_bad"], status: .badRequest)
        }
        let page: UnsubscribePage
        switch which {
        case .account(let id): page = try await UnsubscribePage.load(token: token, follow: id, on: req.db)
        case .email(let id): page = UnsubscribePage(token: token, gone: try await EmailFollowModel.find(id, on: req.db) == nil)
        }
        return try pages.render(req, "unsubscribe", title: strings["unsubscribe_title"], content: page)
    }

    /// RFC 8058 one-click: mail clients POST `List-Unsubscribe=One-Click` to the link itself.
    func unsubscribe(req: Request) async throws -> Response {
        let token = req.query[String.self, at: "token"] ?? (try? req.content.get(String.self, at: "token"))
        guard let which = followID(token) else { throw Abort(.badRequest, reason: strings["unsubscribe_bad"]) }
        switch which {
        case .account(let id):
            try await req.db.writeTransaction { db in try await FollowModel.query(on: db).filter(\.$id == id).delete() }
        case .email(let id):
            try await req.db.writeTransaction { db in
                guard let f = try await EmailFollowModel.find(id, on: db) else { return }
                try await f.delete(on: db)
                // The last follow of an address gone, nothing about the address stays.
                if try await EmailFollowModel.query(on: db).filter(\.$email == f.email).count() == 0 {
                    try await OutboxMessageModel.query(on: db).filter(\.$toAddress == f.email).filter(\.$supporterID == nil).delete()
                }
            }
        }
        return try pages.message(req, title: strings["unsubscribe_done"], text: strings["unsubscribe_done_text"])
    }

    // MARK: "My data" of an e-mail-only follower (the signed link in every mail)

    func dataFollow(_ token: String?, on db: any Database) async throws -> EmailFollowModel? {
        guard let id = EmailFollows.verifyData(token, secret: secret) else { return nil }
        return try await EmailFollowModel.find(id, on: db)
    }

    func dataPage(req: Request) async throws -> Response {
        let token = req.query[String.self, at: "token"]
        guard EmailFollows.verifyData(token, secret: secret) != nil, let token else {
            return try pages.message(req, title: strings["verify_bad_title"], text: strings["follow_data_bad"], status: .badRequest)
        }
        guard let f = try await dataFollow(token, on: req.db) else {
            return try pages.message(req, title: strings["follow_data_title"], text: strings["follow_data_gone"])
        }
        let page = try await FollowDataPage.load(email: f.email, token: token, on: req.db, strings: strings)
        return try pages.render(req, "follow-data", title: strings["follow_data_title"], content: page)
    }

    func dataExport(req: Request) async throws -> Response {
        let form = try req.content.decode(AccountController.TokenForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let f = try await dataFollow(form.token, on: req.db) else {
            return try pages.message(req, title: strings["verify_bad_title"], text: strings["follow_data_gone"], status: .notFound)
        }
        let value = try await EmailFollows.export(email: f.email, on: req.db)
        return Response(status: .ok, headers: ["Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store",
                                               "Content-Disposition": "attachment; filename=\"my-vigil-data.json\""],
                        body: .init(string: value.serialized()))
    }

    func dataDelete(req: Request) async throws -> Response {
        let form = try req.content.decode(AccountController.TokenForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let f = try await dataFollow(form.token, on: req.db) else {
            return try pages.message(req, title: strings["verify_bad_title"], text: strings["follow_data_gone"], status: .notFound)
        }
        try await EmailFollows.erase(email: f.email, on: req.db)
        req.securityLog.record("email-follower.erased", ["by": "owner"])
        return try pages.message(req, title: strings["follow_data_deleted_title"], text: strings["follow_data_deleted_text"])
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
    /// The languages the site offers: a mail links to the page in its reader's language.
    var offered: [String] = []

    /// The address of a document's page for a reader of `language`: in that language where the
    /// site offers it (it shows the translation when there is one), else the address that sends
    /// the reader to their own.
    static func documentURL(_ number: UANumber, _ doc: Document, language: String, offered: [String], baseURL: String) -> String {
        let page = Endpoint.document(number, doc)
        return baseURL + (offered.contains(language) ? page.in(language).path : page.unlocalizedPath)
    }

    /// Alerts for every document a publishing write created. The documents of cases nobody
    /// follows are set aside first, in a few statements (`followedDocuments`): an archive's import
    /// creates tens of thousands, and reading each one's followers one by one inside the write
    /// transaction held SQLite's write lock for 128 s at 10,000 cases.
    @discardableResult
    func enqueue(createdDocuments ids: [String], on db: any Database) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        let followed = try await Self.followedDocuments(ids, on: db)
        guard !followed.isEmpty else { return 0 }
        var sent = 0
        for stored in try await Store(db: db).documents(ids: ids.filter(followed.contains)) {
            guard let ua = try await UrgentActionModel.find(stored.uaID, on: db), let number = UANumber(ua.number) else { continue }
            sent += try await enqueue(document: stored.document, number: number, caseID: ua.caseID, on: db)
        }
        return sent
    }

    /// The originals among `ids` that `enqueue(document:)` has someone to mail about: whose case is
    /// followed by e-mail alone (confirmed), or by a supporter with a verified address, not in a
    /// weekly digest, through the case, one of its countries or one of its themes. Only follows
    /// that mail count: one digest follow of a common theme must not send a whole archive's
    /// documents down the one-by-one path.
    static func followedDocuments(_ ids: [String], on db: any Database) async throws -> Set<String> {
        guard let sql = db as? any SQLDatabase else { return Set(ids) }
        func strings(_ query: SQLQueryString, _ column: String) async throws -> [String] {
            try await sql.raw(query).all().map { try $0.decode(column: column, as: String.self) }
        }
        var caseOf: [String: String] = [:]
        for chunk in ids.chunks(of: 500) {
            for row in try await sql.raw("""
                SELECT d.id AS id, u.case_id AS case_id FROM documents d JOIN urgent_actions u ON u.id = d.urgent_action_id
                WHERE d.translation_of IS NULL AND d.id IN (\(binds: Array(chunk)))
                """).all() {
                caseOf[try row.decode(column: "id", as: String.self)] = try row.decode(column: "case_id", as: String.self)
            }
        }
        // The values followed in a way that mails, read once per statement (not per row).
        func mailing(_ kind: String) -> SQLQueryString {
            """
            SELECT f.subject_value FROM follows f JOIN supporters s ON s.id = f.supporter_id
            WHERE f.subject_kind = \(literal: kind) AND NOT f.digest AND s.email_verified_at IS NOT NULL
            """
        }
        var followedCases: Set<String> = []
        for chunk in Set(caseOf.values).sorted().chunks(of: 500).map(Array.init) {
            followedCases.formUnion(try await strings(
                "SELECT subject_value FROM (\(mailing("case"))) m WHERE subject_value IN (\(binds: chunk))", "subject_value"))
            followedCases.formUnion(try await strings(
                "SELECT case_id FROM email_follows WHERE confirmed_at IS NOT NULL AND case_id IN (\(binds: chunk))", "case_id"))
            // Selected, not bound: the themes and countries followed are as many as supporters make up.
            followedCases.formUnion(try await strings(
                "SELECT c.case_id AS case_id FROM case_countries c WHERE c.case_id IN (\(binds: chunk)) AND c.country IN (\(mailing("country")))",
                "case_id"))
            followedCases.formUnion(try await strings(
                "SELECT t.case_id AS case_id FROM case_themes t WHERE t.case_id IN (\(binds: chunk)) AND t.theme IN (\(mailing("theme")))",
                "case_id"))
        }
        return Set(caseOf.filter { followedCases.contains($0.value) }.keys)
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
        // Confirmed followers of the case by e-mail alone.
        let byEmail = try await EmailFollowModel.query(on: db).filter(\.$caseID == caseID).filter(\.$confirmedAt != nil).all()
        guard !bySupporter.isEmpty || !byEmail.isEmpty else { return 0 }
        let supporters = bySupporter.isEmpty ? [] : try await SupporterModel.query(on: db).filter(\.$id ~~ Array(bySupporter.keys)).all()
        let translations = try await DocumentModel.query(on: db).filter(\.$translationOf == doc.id).all()
        var sent = 0
        var mailed: Set<String> = []
        for f in byEmail where !supporters.contains(where: { $0.email == f.email && $0.emailVerifiedAt != nil && bySupporter[$0.id!] != nil }) {
            guard !mailed.contains(f.email) else { continue }
            mailed.insert(f.email)
            let t = catalogue.strings(for: f.language)
            let shown = Self.translation(in: t.language, among: translations)
            let title = shown?.title ?? doc.title, summary = shown.map { $0.summary ?? "" } ?? doc.summary ?? ""
            let docLanguage = shown?.language ?? doc.language
            let url = Self.documentURL(number, doc, language: t.language, offered: offered, baseURL: baseURL)
            let unsubscribe = baseURL + Endpoint.withToken(.unsubscribe, EmailFollows.unsubscribeToken(f.id!, secret: secret), language: t.language).path
            let data = baseURL + Endpoint.withToken(.followData, EmailFollows.dataToken(f.id!, secret: secret), language: t.language).path
            let kindLabel = t["kind_\(doc.kind.rawValue)"]
            let subject = "\(kindLabel) \(number.label): \(title)"
            let text = t.format("mail_alert_email_text", ["kind": kindLabel, "number": number.label, "title": title, "summary": summary,
                                                          "url": url, "unsubscribe": unsubscribe, "data": data])
            let docDir = LanguageTag.isRightToLeft(docLanguage) ? "rtl" : "ltr"
            let body = "<p>" + HTML.escape(t["mail_alert_email_intro"]) + "</p>"
                + "<h1>" + HTML.escape(kindLabel + " " + number.label) + ": <span lang=\"\(HTML.escape(docLanguage))\" dir=\"\(docDir)\">"
                + HTML.escape(title) + "</span></h1>"
                + (summary.isEmpty ? "" : "<p lang=\"\(HTML.escape(docLanguage))\" dir=\"\(docDir)\">" + HTML.escape(summary) + "</p>")
                + "<p><a href=\"" + HTML.escape(url) + "\">" + HTML.escape(t["mail_alert_read"]) + "</a></p>"
                + "<p><small>" + HTML.escape(t.format("mail_why", ["site": baseURL])) + " <a href=\"" + HTML.escape(unsubscribe) + "\">"
                + HTML.escape(t["unsubscribe_title"]) + "</a> · <a href=\"" + HTML.escape(data) + "\">" + HTML.escape(t["follow_data_link"])
                + "</a></small></p>"
            try await Outbox.enqueue(to: f.email, subject: subject, text: text,
                                     html: Mailer.htmlDocument(language: t.language, title: subject, body: body),
                                     headers: [("List-Unsubscribe", "<\(unsubscribe)>"), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                                               ("Content-Language", t.language)],
                                     from: mailFrom, supporter: nil, on: db)
            sent += 1
        }
        for s in supporters where s.emailVerifiedAt != nil {
            guard let follow = bySupporter[s.id!] else { continue }
            let t = catalogue.strings(for: follow.language ?? s.language)
            // The document in the reader's language when we have it, else the original.
            let shown = Self.translation(in: t.language, among: translations)
            let title = shown?.title ?? doc.title, summary = shown.map { $0.summary ?? "" } ?? doc.summary ?? ""
            let docLanguage = shown?.language ?? doc.language
            let url = Self.documentURL(number, doc, language: t.language, offered: offered, baseURL: baseURL)
            let unsubscribe = baseURL + Endpoint.withToken(.unsubscribe, FollowController.unsubscribeToken(follow: follow.id!, secret: secret), language: t.language).path
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
                     secret: ServerSecret, offered: [String] = []) async throws -> Int {
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
            // Not the withdrawn ones (`Withdrawal`).
            let uas = try await UrgentActionModel.query(on: db).filter(\.$caseID ~~ Array(caseIDs)).filter(\.$withdrawnAt == nil).all()
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
                let page = Endpoint.document(n, kind: kind, sequence: d.sequence)
                let url = baseURL + (offered.contains(strings.language) ? page.in(strings.language).path : page.unlocalizedPath)
                return "- \(strings["kind_\(kind.rawValue)"]) \(n.label): \(shown?.title ?? d.title)\n  \(url)"
            }
            let unsubscribe = baseURL + Endpoint.withToken(.unsubscribe, FollowController.unsubscribeToken(follow: theirs[0].id!, secret: secret), language: strings.language).path
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
