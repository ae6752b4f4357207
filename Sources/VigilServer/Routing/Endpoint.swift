import Foundation
import Vapor
import VigilCore

/// Every address Vigil answers, as a value. The one table below (`Endpoint.Name`: a method and a
/// pattern for each) registers every route with the router, prints every link — on pages, in
/// feeds, in e-mails, in API `Location` headers — and parses an address back into a route. No
/// other code spells a path: a template receives URLs in its model.
struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    let name: Name
    /// The values of the pattern's parameters, in pattern order.
    let values: [String]
    /// Query values; printed in the order `name.queryKeys` gives, empty ones left out.
    let query: [String: String]
    /// The language of a page's address (`/fr/…`), for the routes that carry one
    /// (`Name.isLocalized`); nil: the language the request is answered in (`Localized`).
    var language: String?

    init(_ name: Name, _ values: [String] = [], query: [String: String] = [:], language: String? = nil) {
        precondition(values.count == name.segments.filter(\.isParameter).count, "\(name) takes \(name.segments.filter(\.isParameter).count) values")
        self.name = name
        self.values = values
        self.query = query.filter { !$0.value.isEmpty && name.queryKeys.contains($0.key) }
        self.language = language
    }

    /// The same page in `language`.
    func `in`(_ language: String) -> Endpoint {
        var e = self
        e.language = language
        return e
    }

    /// What a path segment may hold. The kinds tell apart routes of the same shape
    /// (`/urgent-actions/126-19/initial` is a page, `…/initial.pdf` a file, `…/initial/letter` an old letter link).
    enum Parameter: String, Sendable {
        /// An urgent action's number as in its address: `126-19`.
        case number
        /// `initial`, `update-2`, `outcome`.
        case part
        /// A document's part and format: `initial.pdf`, `outcome.docx`.
        case file
        /// A translation's language: `ru`, `zh-Hans`.
        case language
        /// A translation's language and format: `ru.pdf`.
        case languageFile
        /// `letter`, `letter.pdf`, `letter.docx`: letters are made by POST now.
        case oldLetter
        /// A case, target or document id; a country code; a theme.
        case id
        /// A session, follow, report or token id.
        case uuid

        func accepts(_ s: String) -> Bool {
            guard !s.isEmpty, s.utf8.count <= 200 else { return false }
            let isFile = s.hasSuffix(".pdf") || s.hasSuffix(".docx")
            let isOldLetter = s == "letter" || s.hasPrefix("letter.")
            switch self {
            case .id: return true
            case .number: return !isFile
            case .part: return Endpoint.parsePart(s) != nil
            case .file: return isFile && Endpoint.parsePart(Endpoint.splitFile(s)?.0 ?? "") != nil
            case .language: return !isFile && !isOldLetter && !s.contains(".")
            case .languageFile: return isFile && !isOldLetter
            case .oldLetter: return isOldLetter
            case .uuid: return UUID(uuidString: s) != nil
            }
        }
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(Parameter)
        var isParameter: Bool { if case .parameter = self { true } else { false } }
    }

    /// Every route: its method, pattern and query keys. Where two share a method and a shape,
    /// the first whose parameters accept the address wins.
    enum Name: String, CaseIterable, Sendable {
        // The public site.
        case home, urgentActions, urgentAction, oldLetter, oldTranslationLetter
        case document, download, translation, translationDownload, letter, translationLetter
        case kase, outcomes, pack
        case feed, feeds, caseFeed, countryFeed, themeFeed, sitemap, robots, health, ready
        case stylesheet, printStylesheet, chooseLanguage
        // Supporters: accounts, reports, follows, privacy.
        case signupForm, signup, verifyForm, verify, loginForm, login, loginLinkForm, loginLink, logout
        case account, revokeSession, logoutEverywhere, changePassword, changeEmail, changeLanguage
        case confirmEmailForm, confirmEmail, passwordResetForm, passwordReset, passwordNew
        case reportForm, report, undoReport, followForm, follow, removeFollow, unsubscribeForm, unsubscribe
        case followConfirmForm, followConfirm, followData, followDataExport, followDataDelete
        case privacy, accountExport, accountDeleteForm, accountDelete
        // The newsroom: its home, second factor, accounts, API tokens.
        case newsroom, newsroomTimeZone, secondFactorForm, secondFactorEnrol, recoveryCodes, loginCodeForm, loginCode
        case newsroomAccounts, inviteAccount, changeRoles, resetSecondFactor
        case editor, createToken, revokeToken, oldEditor
        case newsroomAudit, newsroomAuditCSV
        case newsroomUrgentActions, newsroomUrgentAction, withdrawUrgentAction, republishUrgentAction, redactUrgentAction
        case newsroomDrafts, createDraft, editPublished, newsroomDraft, saveDraft, draftStep, draftRestore, draftCompare
        case createPreviewLink, revokePreviewLink, preview
        case devOutbox
        // The API.
        case apiOpenAPI, apiCases, apiCase, apiCreateCase, apiReplaceCase, apiCreateUrgentAction
        case apiUrgentActions, apiUrgentAction, apiUrgentActionTotals, apiUrgentActionDocuments, apiUrgentActionDocument
        case apiCreateDocument, apiReplaceDocument, apiDocuments, apiDocument
        case apiTargets, apiTarget, apiCreateTarget, apiReplaceTarget, apiExport, apiBundles, apiTotals
        case apiWithdrawUrgentAction, apiRepublishUrgentAction, apiRedactUrgentAction
        case apiDrafts, apiCreateDraft, apiOpenDraft, apiDraft, apiSaveDraft, apiDraftRevision, apiDraftSteps, apiDraftRestore, apiDraftCompare

        var method: HTTPMethod {
            switch self {
            case .letter, .translationLetter, .signup, .verify, .login, .loginLink, .logout, .revokeSession, .logoutEverywhere,
                 .changePassword, .changeEmail, .changeLanguage, .confirmEmail, .passwordReset, .passwordNew, .report, .undoReport,
                 .follow, .removeFollow, .unsubscribe, .followConfirm, .followDataExport, .followDataDelete, .accountDelete, .createToken, .revokeToken,
                 .secondFactorEnrol, .newsroomTimeZone, .recoveryCodes, .loginCode, .inviteAccount, .changeRoles, .resetSecondFactor,
                 .withdrawUrgentAction, .republishUrgentAction, .redactUrgentAction,
                 .createDraft, .editPublished, .saveDraft, .draftStep, .draftRestore, .createPreviewLink, .revokePreviewLink,
                 .apiCreateCase, .apiCreateDocument, .apiCreateTarget, .apiBundles, .apiCreateUrgentAction,
                 .apiWithdrawUrgentAction, .apiRepublishUrgentAction, .apiRedactUrgentAction,
                 .apiCreateDraft, .apiOpenDraft, .apiDraftSteps, .apiDraftRestore:
                return .POST
            case .apiReplaceCase, .apiReplaceDocument, .apiReplaceTarget, .apiSaveDraft:
                return .PUT
            default:
                return .GET
            }
        }

        /// Served from `Public/` by the file middleware, not by a handler.
        var isStatic: Bool { self == .stylesheet || self == .printStylesheet }

        /// A page whose address carries its language (`/fr/urgent-actions/126-19/initial`). Its
        /// address without one redirects to the visitor's language. Downloads, feeds, the API,
        /// form posts and the links sent by e-mail (which hold a token) have one address in every
        /// language, and answer in the visitor's.
        var isLocalized: Bool {
            switch self {
            case .home, .urgentActions, .urgentAction, .document, .translation, .kase, .outcomes, .feeds,
                 .signupForm, .loginForm, .account, .reportForm, .followForm, .privacy, .accountDeleteForm,
                 .newsroom, .secondFactorForm, .loginCodeForm, .newsroomAccounts, .editor, .newsroomAudit,
                 .newsroomUrgentActions, .newsroomUrgentAction, .newsroomDrafts, .newsroomDraft, .draftCompare:
                return true
            default:
                return false
            }
        }

        var segments: [Segment] {
            let ua: [Segment] = [.literal("urgent-actions"), .parameter(.number)]
            let api = Endpoint.apiSegments.map(Segment.literal)
            func l(_ parts: String...) -> [Segment] { parts.map(Segment.literal) }
            switch self {
            case .home: return []
            case .urgentActions: return l("urgent-actions")
            case .urgentAction: return ua
            case .oldLetter: return ua + [.parameter(.part), .parameter(.oldLetter)]
            case .oldTranslationLetter: return ua + [.parameter(.part), .parameter(.language), .parameter(.oldLetter)]
            case .document: return ua + [.parameter(.part)]
            case .download: return ua + [.parameter(.file)]
            case .translation: return ua + [.parameter(.part), .parameter(.language)]
            case .translationDownload: return ua + [.parameter(.part), .parameter(.languageFile)]
            case .letter: return ua + [.parameter(.part), .literal("letter")]
            case .translationLetter: return ua + [.parameter(.part), .parameter(.language), .literal("letter")]
            case .kase: return [.literal("cases"), .parameter(.id)]
            case .outcomes: return l("outcomes")
            case .pack: return l("pack.pdf")
            case .feed: return l("feed.atom")
            case .feeds: return l("feeds")
            case .caseFeed: return [.literal("cases"), .parameter(.id), .literal("feed.atom")]
            case .countryFeed: return [.literal("countries"), .parameter(.id), .literal("feed.atom")]
            case .themeFeed: return [.literal("themes"), .parameter(.id), .literal("feed.atom")]
            case .sitemap: return l("sitemap.xml")
            case .robots: return l("robots.txt")
            case .health: return l("healthz")
            case .ready: return l("readyz")
            case .stylesheet: return l("css", "site.css")
            case .printStylesheet: return l("css", "print.css")
            case .chooseLanguage: return l("language")
            case .signupForm, .signup: return l("signup")
            case .verifyForm, .verify: return l("verify")
            case .loginForm, .login: return l("login")
            case .loginLinkForm, .loginLink: return l("login", "link")
            case .logout: return l("logout")
            case .account: return l("account")
            case .revokeSession: return [.literal("account"), .literal("sessions"), .parameter(.uuid), .literal("revoke")]
            case .logoutEverywhere: return l("account", "logout-everywhere")
            case .changePassword: return l("account", "password")
            case .changeEmail: return l("account", "email")
            case .changeLanguage: return l("account", "language")
            case .confirmEmailForm, .confirmEmail: return l("account", "email", "confirm")
            case .passwordResetForm, .passwordReset: return l("password-reset")
            case .passwordNew: return l("password-reset", "new")
            case .reportForm, .report: return l("report")
            case .undoReport: return [.literal("account"), .literal("reports"), .parameter(.uuid), .literal("undo")]
            case .followForm, .follow: return l("follow")
            case .removeFollow: return [.literal("account"), .literal("follows"), .parameter(.uuid), .literal("remove")]
            case .unsubscribeForm, .unsubscribe: return l("unsubscribe")
            case .followConfirmForm, .followConfirm: return l("follow", "confirm")
            case .followData: return l("follow", "data")
            case .followDataExport: return l("follow", "data", "export.json")
            case .followDataDelete: return l("follow", "data", "delete")
            case .privacy: return l("privacy")
            case .accountExport: return l("account", "export.json")
            case .accountDeleteForm, .accountDelete: return l("account", "delete")
            case .newsroom: return l("newsroom")
            case .newsroomTimeZone: return l("newsroom", "time-zone")
            case .secondFactorForm, .secondFactorEnrol: return l("newsroom", "second-factor")
            case .recoveryCodes: return l("newsroom", "second-factor", "recovery-codes")
            case .loginCodeForm, .loginCode: return l("login", "code")
            case .newsroomAccounts, .inviteAccount: return l("newsroom", "accounts")
            case .changeRoles: return [.literal("newsroom"), .literal("accounts"), .parameter(.uuid), .literal("roles")]
            case .resetSecondFactor: return [.literal("newsroom"), .literal("accounts"), .parameter(.uuid), .literal("second-factor")]
            case .editor, .createToken: return l("newsroom", "tokens")
            case .revokeToken: return [.literal("newsroom"), .literal("tokens"), .parameter(.uuid), .literal("revoke")]
            case .oldEditor: return l("editor")
            case .newsroomAudit: return l("newsroom", "audit")
            case .newsroomAuditCSV: return l("newsroom", "audit.csv")
            case .newsroomUrgentActions: return l("newsroom", "urgent-actions")
            case .newsroomUrgentAction: return [.literal("newsroom"), .literal("urgent-actions"), .parameter(.number)]
            case .withdrawUrgentAction: return [.literal("newsroom"), .literal("urgent-actions"), .parameter(.number), .literal("withdraw")]
            case .republishUrgentAction: return [.literal("newsroom"), .literal("urgent-actions"), .parameter(.number), .literal("republish")]
            case .redactUrgentAction: return [.literal("newsroom"), .literal("urgent-actions"), .parameter(.number), .literal("redact")]
            case .newsroomDrafts, .createDraft: return l("newsroom", "drafts")
            case .editPublished: return l("newsroom", "edit")
            case .newsroomDraft, .saveDraft: return [.literal("newsroom"), .literal("drafts"), .parameter(.uuid)]
            case .draftStep: return [.literal("newsroom"), .literal("drafts"), .parameter(.uuid), .literal("step")]
            case .draftRestore: return [.literal("newsroom"), .literal("drafts"), .parameter(.uuid), .literal("restore")]
            case .draftCompare: return [.literal("newsroom"), .literal("drafts"), .parameter(.uuid), .literal("compare")]
            case .createPreviewLink: return [.literal("newsroom"), .literal("drafts"), .parameter(.uuid), .literal("preview-links")]
            case .revokePreviewLink:
                return [.literal("newsroom"), .literal("drafts"), .parameter(.uuid), .literal("preview-links"), .parameter(.id), .literal("revoke")]
            case .preview: return [.literal("preview"), .parameter(.id)]
            case .devOutbox: return l("dev", "outbox")
            case .apiOpenAPI: return api + l("openapi.json")
            case .apiCases, .apiCreateCase: return api + l("cases")
            case .apiCase, .apiReplaceCase: return api + [.literal("cases"), .parameter(.id)]
            case .apiCreateUrgentAction: return api + [.literal("cases"), .parameter(.id), .literal("urgent-actions")]
            case .apiUrgentActions: return api + l("urgent-actions")
            case .apiUrgentAction: return api + [.literal("urgent-actions"), .parameter(.number)]
            case .apiUrgentActionTotals: return api + [.literal("urgent-actions"), .parameter(.number), .literal("totals")]
            case .apiUrgentActionDocuments, .apiCreateDocument: return api + [.literal("urgent-actions"), .parameter(.number), .literal("documents")]
            case .apiUrgentActionDocument, .apiReplaceDocument:
                return api + [.literal("urgent-actions"), .parameter(.number), .literal("documents"), .parameter(.id)]
            case .apiDocuments: return api + l("documents")
            case .apiDocument: return api + [.literal("documents"), .parameter(.id)]
            case .apiTargets, .apiCreateTarget: return api + l("targets")
            case .apiTarget, .apiReplaceTarget: return api + [.literal("targets"), .parameter(.id)]
            case .apiExport: return api + l("export")
            case .apiBundles: return api + l("bundles")
            case .apiTotals: return api + l("totals")
            case .apiWithdrawUrgentAction: return api + [.literal("urgent-actions"), .parameter(.number), .literal("withdraw")]
            case .apiRepublishUrgentAction: return api + [.literal("urgent-actions"), .parameter(.number), .literal("republish")]
            case .apiRedactUrgentAction: return api + [.literal("urgent-actions"), .parameter(.number), .literal("redact")]
            case .apiDrafts, .apiCreateDraft: return api + l("drafts")
            case .apiOpenDraft: return api + l("drafts", "open")
            case .apiDraft, .apiSaveDraft: return api + [.literal("drafts"), .parameter(.uuid)]
            case .apiDraftRevision: return api + [.literal("drafts"), .parameter(.uuid), .literal("revisions"), .parameter(.id)]
            case .apiDraftSteps: return api + [.literal("drafts"), .parameter(.uuid), .literal("steps")]
            case .apiDraftRestore: return api + [.literal("drafts"), .parameter(.uuid), .literal("restore")]
            case .apiDraftCompare: return api + [.literal("drafts"), .parameter(.uuid), .literal("compare")]
            }
        }

        /// The query keys a link to this route may carry, in the order they are printed.
        var queryKeys: [String] {
            switch self {
            case .chooseLanguage: return ["to", "next"]
            case .feed, .caseFeed, .countryFeed, .themeFeed: return ["lang", "page"]
            case .sitemap: return ["part"]
            case .urgentActions: return ["q", "country", "region", "theme", "status", "kind", "outcome", "language", "page"]
            case .pack: return ["q", "country", "region", "theme", "status", "kind", "outcome", "language", "paper"]
            case .download, .translationDownload: return ["paper"]
            // `lang`: the language of the mail the link came in, for the page it opens.
            case .verifyForm: return ["token", "next", "lang"]
            case .loginLinkForm, .confirmEmailForm, .passwordResetForm, .unsubscribeForm, .unsubscribe, .followConfirmForm, .followData:
                return ["token", "lang"]
            case .reportForm: return ["document", "thanks", "followed", "again"]
            case .loginForm, .signupForm, .verify: return ["next"]
            case .followForm: return ["case", "country", "theme"]
            case .apiCases: return ["country", "theme", "status", "updated_since", "limit", "cursor"]
            case .apiUrgentActions, .apiDocuments: return ["country", "theme", "status", "kind", "language", "updated_since", "case", "limit", "cursor"]
            case .apiTargets: return ["country", "updated_since", "limit", "cursor"]
            case .apiExport: return ["case"]
            case .apiDrafts: return ["state", "kind", "limit", "cursor"]
            case .apiDraftCompare: return ["a", "b"]
            case .newsroomAudit, .newsroomAuditCSV: return ["action", "actor", "subject", "from", "to", "before"]
            case .newsroomUrgentActions: return ["number"]
            case .newsroomDrafts: return ["state", "page"]
            case .draftCompare: return ["a", "b"]
            default: return []
            }
        }
    }

    static let apiSegments = ["api", "v1"]
    /// `/api/v1/`: everything under it answers in JSON.
    static var apiRoot: String { "/" + apiSegments.joined(separator: "/") + "/" }

    /// The value of the pattern's parameter of this kind (each kind appears once in a pattern).
    subscript(_ parameter: Parameter) -> String? {
        var i = 0
        for s in name.segments {
            guard case .parameter(let p) = s else { continue }
            if p == parameter { return values[i] }
            i += 1
        }
        return nil
    }

    /// The path, with its query string: `/fr/urgent-actions/126-19/initial`, `/fr/urgent-actions?country=RU`,
    /// `/feed.atom`. A localized page's address has no language outside a request unless it was given one.
    var path: String {
        if name.isLocalized, let l = language ?? Localized.current?.language {
            return "/" + l + unlocalizedPath
        }
        return unlocalizedPath
    }

    /// The path without the language (`/urgent-actions/126-19/initial`): what redirects to the
    /// visitor's language.
    var unlocalizedPath: String {
        var values = self.values.makeIterator()
        let parts = name.segments.map { s -> String in
            switch s {
            case .literal(let l): return l
            case .parameter: return Self.percentEncode(values.next()!)
            }
        }
        let items = name.queryKeys.compactMap { k in query[k].map { "\(k)=\(Self.percentEncode($0))" } }
        return "/" + parts.joined(separator: "/") + (items.isEmpty ? "" : "?" + items.joined(separator: "&"))
    }

    var description: String { "\(name.method) \(path)" }

    /// The route an address names, or nil. The query keeps only the keys the route prints. A
    /// localized page's address may start with its language (`/fr/…`).
    static func parse(method: HTTPMethod, path: String, query: String? = nil) -> Endpoint? {
        if let e = parseUnlocalized(method: method, path: path, query: query) { return e }
        let parts = path.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].isEmpty, Self.looksLikeLanguage(parts[1]) else { return nil }
        let rest = parts.count == 3 ? "/" + parts[2] : "/"
        guard var e = parseUnlocalized(method: method, path: rest, query: query), e.name.isLocalized else { return nil }
        e.language = String(parts[1])
        return e
    }

    /// `fr`, `pt-BR`, `zh-Hans`: what may start a localized page's address.
    static func looksLikeLanguage<S: StringProtocol>(_ s: S) -> Bool {
        guard s.utf8.count <= 20, let first = s.split(separator: "-").first, (2...3).contains(first.count),
              first.allSatisfy({ $0.isASCII && $0.isLowercase }) else { return false }
        return LanguageTag.problem(String(s)) == nil
    }

    private static func parseUnlocalized(method: HTTPMethod, path: String, query: String?) -> Endpoint? {
        let raw = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let segments = raw.count == 1 && raw.first == "" ? [] : raw.map { String($0).removingPercentEncoding ?? String($0) }
        for name in Name.allCases where name.method == method && name.segments.count == segments.count {
            var values: [String] = []
            var matched = true
            for (pattern, s) in zip(name.segments, segments) {
                switch pattern {
                case .literal(let l): matched = l == s
                case .parameter(let p): matched = p.accepts(s); values.append(s)
                }
                if !matched { break }
            }
            guard matched else { continue }
            var q: [String: String] = [:]
            for pair in (query ?? "").split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
                let value = kv.count > 1 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "") : ""
                if q[key] == nil { q[key] = value }
            }
            return Endpoint(name, values, query: q)
        }
        return nil
    }

    // MARK: - Parts of document addresses

    /// `initial`, `update-2`, `outcome`: the readable part of a document's path.
    static func part(kind: DocumentKind, sequence: Int) -> String {
        switch kind {
        case .initial: return "initial"
        case .update: return "update-\(sequence)"
        case .outcome: return "outcome"
        }
    }

    /// Parses the part after the number: `initial`, `update-2`, `outcome`.
    static func parsePart(_ s: String) -> (DocumentKind, Int?)? {
        switch s {
        case "initial": return (.initial, 0)
        case "outcome": return (.outcome, nil)
        default:
            guard s.hasPrefix("update-"), let n = Int(s.dropFirst(7)), n >= 1, n <= 999, String(n) == s.dropFirst(7) else { return nil }
            return (.update, n)
        }
    }

    enum FileFormat: String, Sendable, CaseIterable {
        case pdf, docx
        var contentType: String {
            self == .pdf ? "application/pdf" : "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        }
    }

    /// `initial.pdf` → (`initial`, .pdf).
    static func splitFile(_ name: String) -> (String, FileFormat)? {
        for f in FileFormat.allCases where name.hasSuffix(".\(f.rawValue)") {
            return (String(name.dropLast(f.rawValue.count + 1)), f)
        }
        return nil
    }

    static func percentEncode(_ s: String) -> String {
        // Most values (numbers, slugs, languages) need nothing: kept as they are without
        // Foundation, whose call (and the set of characters, made for each) was 4% of a search
        // page's CPU.
        if s.utf8.allSatisfy({ b in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "~")
        }) { return s }
        return percentEncodeByFoundation(s)
    }

    private static let unreserved: CharacterSet = {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return allowed
    }()

    /// `percentEncode` for any value (the same as `percentEncode`, tested).
    static func percentEncodeByFoundation(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }
}

// MARK: - Links, by what they show

extension Endpoint {
    static let home = Endpoint(.home)
    static let outcomes = Endpoint(.outcomes)
    static let feed = Endpoint(.feed)
    static let account = Endpoint(.account)
    static let editor = Endpoint(.editor)
    static let loginForm = Endpoint(.loginForm)
    static let newsroom = Endpoint(.newsroom)
    static let secondFactorForm = Endpoint(.secondFactorForm)
    static let loginCodeForm = Endpoint(.loginCodeForm)
    static let newsroomAccounts = Endpoint(.newsroomAccounts)

    /// The list, filtered and paged (`SiteData` query values).
    static func urgentActions(_ query: [String: String] = [:]) -> Endpoint { Endpoint(.urgentActions, query: query) }
    static func urgentAction(_ number: UANumber) -> Endpoint { Endpoint(.urgentAction, [number.slug]) }
    /// The newsroom's page of an urgent action: its documents, where it stands, withdrawal.
    static func newsroomUrgentAction(_ number: UANumber) -> Endpoint { Endpoint(.newsroomUrgentAction, [number.slug]) }

    /// A document's page in the page's language: `/fr/urgent-actions/126-19/outcome` shows its
    /// French translation when there is one, else the original.
    static func document(_ number: UANumber, kind: DocumentKind, sequence: Int) -> Endpoint {
        Endpoint(.document, [number.slug, part(kind: kind, sequence: sequence)])
    }

    static func document(_ number: UANumber, _ doc: Document) -> Endpoint { document(number, kind: doc.kind, sequence: doc.sequence) }

    /// The page that shows this very document, translation or original: in its own language where
    /// the site offers it (`/ru/urgent-actions/126-19/initial`), else the address of the document
    /// in that language (`/fr/urgent-actions/88-26/initial/zh-Hans`, the page around it in the
    /// visitor's language).
    static func showing(_ number: UANumber, _ doc: Document) -> Endpoint {
        showing(number, kind: doc.kind, sequence: doc.sequence, language: doc.language, isTranslation: doc.translationOf != nil)
    }

    static func showing(_ number: UANumber, kind: DocumentKind, sequence: Int, language: String, isTranslation: Bool) -> Endpoint {
        let page = document(number, kind: kind, sequence: sequence)
        if Localized.offered.contains(language) { return page.in(language) }
        return Endpoint(.translation, [number.slug, part(kind: kind, sequence: sequence), language])
    }

    /// `…/outcome.pdf`, `…/initial/ru.docx`.
    static func download(_ number: UANumber, _ doc: Document, _ format: FileFormat) -> Endpoint {
        let part = part(kind: doc.kind, sequence: doc.sequence)
        return doc.translationOf != nil
            ? Endpoint(.translationDownload, [number.slug, part, "\(doc.language).\(format.rawValue)"])
            : Endpoint(.download, [number.slug, "\(part).\(format.rawValue)"])
    }

    /// Where a document's letter form posts.
    static func letter(_ number: UANumber, _ doc: Document) -> Endpoint {
        let part = part(kind: doc.kind, sequence: doc.sequence)
        return doc.translationOf != nil ? Endpoint(.translationLetter, [number.slug, part, doc.language]) : Endpoint(.letter, [number.slug, part])
    }

    static func kase(_ id: String) -> Endpoint { Endpoint(.kase, [id]) }
    static func caseFeed(_ id: String) -> Endpoint { Endpoint(.caseFeed, [id]) }
    static func countryFeed(_ code: String) -> Endpoint { Endpoint(.countryFeed, [code]) }
    static func themeFeed(_ theme: String) -> Endpoint { Endpoint(.themeFeed, [theme]) }
    static func follow(case id: String) -> Endpoint { Endpoint(.followForm, query: ["case": id]) }
    static func reportForm(document id: String, thanks: String? = nil, followed: String? = nil, again: Bool = false) -> Endpoint {
        Endpoint(.reportForm, query: ["document": id, "thanks": thanks ?? "", "followed": followed ?? "", "again": again ? "1" : ""])
    }
    /// The personal follow page of a case, country or theme (`FollowSubject`).
    static func follow(_ subject: FollowSubject) -> Endpoint { Endpoint(.followForm, query: [subject.kind: subject.value]) }
    /// The log-in form, returning to `next` (a local path) afterwards.
    static func login(next: String?) -> Endpoint { Endpoint(.loginForm, query: ["next": next ?? ""]) }
    /// A link sent by e-mail: its token, and the language of the mail (the page opens in it).
    static func withToken(_ name: Name, _ token: String, language: String? = nil) -> Endpoint {
        Endpoint(name, query: ["token": token, "lang": language ?? ""])
    }
    static func apiCase(_ id: String) -> Endpoint { Endpoint(.apiCase, [id]) }
    static func apiTarget(_ id: String) -> Endpoint { Endpoint(.apiTarget, [id]) }
    static func apiDocument(_ number: UANumber, _ id: String) -> Endpoint { Endpoint(.apiUrgentActionDocument, [number.slug, id]) }
}

extension Endpoint.Name {
    /// `loginForm` → `login_form`: the name templates know the route by.
    var templateKey: String {
        let chars = Array(rawValue)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase, i > 0, chars[i - 1].isLowercase || (i + 1 < chars.count && chars[i + 1].isLowercase && chars[i - 1].isUppercase) {
                out += "_"
            }
            out += c.lowercased()
        }
        return out
    }
}
