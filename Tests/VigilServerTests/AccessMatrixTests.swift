import Fluent
import Foundation
import SQLKit
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// Who may do what: every route (`Endpoint.Name.allCases`) against every kind of caller, with the
/// answer each one gets today. A route added without a row fails the test, and so does any cell
/// whose answer changes. Then, with both databases: a supporter can never read or change another
/// supporter's data, nor a publisher another's tokens, by naming their ids.
@Suite("Access matrix")
struct AccessMatrixTests {
    /// The callers, in the order of a row's cells.
    enum Actor: String, CaseIterable, Sendable {
        case anonymous, supporterA, supporterB, editor, publisher, admin, readToken, writeToken, importToken

        /// A browser (cookies, and the CSRF token of its session or of its anonymous cookie); the
        /// others are API clients with a bearer token of one scope (`APIToken.scopes`) and no cookie.
        var isBrowser: Bool { scope == nil }
        var scope: String? {
            switch self {
            case .readToken: "read"
            case .writeToken: "write"
            case .importToken: "import"
            default: nil
            }
        }
        var roles: Set<NewsroomRole>? {
            switch self {
            case .editor: [.editor]
            case .publisher: [.publisher]
            case .admin: [.admin]
            default: nil
            }
        }
    }

    /// The expected answers. One row per route; its nine cells are, in order:
    ///
    ///     anonymous  supporter A  supporter B  editor  publisher  admin  read token  write token  import token
    ///
    /// A cell is a status, `L` for `303 See Other` to the log-in form (what a supporter's page
    /// answers a caller who is not logged in), or several answers allowed, as `200|304`.
    ///
    /// What each caller sends (`request`): localized pages in `/en/…`; path values from the demo
    /// (`values`: an open action for letters, a draft that exists, ids of other things that do
    /// not — nobody's session, follow, report, token or account; `aSupporterCanNeverRead…` names
    /// other people's). Browsers post a form with their own valid CSRF token, the page's `lang`
    /// and nothing else (`fields`), so that an answer is about access, never about CSRF, and no
    /// form that passes its gate changes anything; token clients post the same form without a
    /// CSRF token (a token opens no page and no form: `L` where the session is asked for first,
    /// else 403 for the missing CSRF token); API writes get `{}`.
    ///
    /// How to read the answers: the newsroom's gate answers 401 (log in) or 403 (no newsroom role,
    /// or not the one needed); the API's, 401 (no valid token: a session cookie is not one) or 403
    /// (a scope too narrow). Past a gate, an empty form is refused on its content: 400, 404, 409,
    /// 422 — or 401 on forms that ask for the password again (`changePassword`, `recoveryCodes`,
    /// `changeRoles`…: the caller was let in, the password it did not give was refused).
    static let matrix: [Endpoint.Name: String] = [
        //                             anon A    B    edit pub  adm  read writ imp
        // The public site.
        .home:                        "200  200  200  200  200  200  200  200  200",
        .urgentActions:               "200  200  200  200  200  200  200  200  200",
        .urgentAction:                "303  303  303  303  303  303  303  303  303",
        .oldLetter:                   "405  405  405  405  405  405  405  405  405",
        .oldTranslationLetter:        "405  405  405  405  405  405  405  405  405",
        .document:                    "200  200  200  200  200  200  200  200  200",
        .download:                    "200  200  200  200  200  200  200  200  200",
        .translation:                 "301  301  301  301  301  301  301  301  301",
        .translationDownload:         "200  200  200  200  200  200  200  200  200",
        .letter:                      "200  200  200  200  200  200  200  200  200",
        .translationLetter:           "200  200  200  200  200  200  200  200  200",
        .kase:                        "200  200  200  200  200  200  200  200  200",
        .outcomes:                    "200  200  200  200  200  200  200  200  200",
        .pack:                        "200  200  200  200  200  200  200  200  200",
        .feed:                        "200  200  200  200  200  200  200  200  200",
        .feeds:                       "200  200  200  200  200  200  200  200  200",
        .caseFeed:                    "200  200  200  200  200  200  200  200  200",
        .countryFeed:                 "200  200  200  200  200  200  200  200  200",
        .themeFeed:                   "200  200  200  200  200  200  200  200  200",
        .sitemap:                     "200  200  200  200  200  200  200  200  200",
        .robots:                      "200  200  200  200  200  200  200  200  200",
        .health:                      "200  200  200  200  200  200  200  200  200",
        .ready:                       "200  200  200  200  200  200  200  200  200",
        .stylesheet:                  "200  200  200  200  200  200  200  200  200",
        .printStylesheet:             "200  200  200  200  200  200  200  200  200",
        .chooseLanguage:              "303  303  303  303  303  303  303  303  303",
        // Supporters: accounts, reports, follows, privacy.
        .signupForm:                  "200  200  200  200  200  200  200  200  200",
        .signup:                      "422  422  422  422  422  422  403  403  403",
        .verifyForm:                  "400  400  400  400  400  400  400  400  400",
        .verify:                      "400  400  400  400  400  400  403  403  403",
        .loginForm:                   "200  303  303  303  303  303  200  200  200",
        .login:                       "401  401  401  401  401  401  403  403  403",
        .loginLinkForm:               "400  400  400  400  400  400  400  400  400",
        .loginLink:                   "400  400  400  400  400  400  403  403  403",
        .logout:                      "303  303  303  303  303  303  403  403  403",
        .account:                     "L    200  200  200  200  200  L    L    L",
        .revokeSession:               "L    303  303  303  303  303  L    L    L",
        .logoutEverywhere:            "L    303  303  303  303  303  L    L    L",
        .changePassword:              "L    401  401  401  401  401  L    L    L",
        .changeEmail:                 "L    401  401  401  401  401  L    L    L",
        .changeLanguage:              "L    422  422  422  422  422  L    L    L",
        .confirmEmailForm:            "400  400  400  400  400  400  400  400  400",
        .confirmEmail:                "400  400  400  400  400  400  403  403  403",
        .passwordResetForm:           "200  200  200  200  200  200  200  200  200",
        .passwordReset:               "422  422  422  422  422  422  403  403  403",
        .passwordNew:                 "422  422  422  422  422  422  403  403  403",
        .reportForm:                  "200  200  200  200  200  200  200  200  200",
        .report:                      "404  404  404  404  404  404  403  403  403",
        .undoReport:                  "L    404  404  404  404  404  L    L    L",
        .followForm:                  "200  200  200  200  200  200  200  200  200",
        .follow:                      "400  400  400  400  400  400  403  403  403",
        .removeFollow:                "L    303  303  303  303  303  L    L    L",
        .unsubscribeForm:             "400  400  400  400  400  400  400  400  400",
        .unsubscribe:                 "400  400  400  400  400  400  400  400  400",
        .followConfirmForm:           "400  400  400  400  400  400  400  400  400",
        .followConfirm:               "400  400  400  400  400  400  403  403  403",
        .followData:                  "400  400  400  400  400  400  400  400  400",
        .followDataExport:            "404  404  404  404  404  404  403  403  403",
        .followDataDelete:            "404  404  404  404  404  404  403  403  403",
        .privacy:                     "200  200  200  200  200  200  200  200  200",
        .accountExport:               "L    200  200  200  200  200  L    L    L",
        .accountDeleteForm:           "L    200  200  200  200  200  L    L    L",
        .accountDelete:               "L    401  401  401  401  401  L    L    L",
        // The newsroom.
        .newsroom:                    "401  403  403  200  200  200  401  401  401",
        .newsroomTimeZone:            "401  403  403  200  200  200  401  401  401",
        .secondFactorForm:            "401  403  403  200  200  200  401  401  401",
        .secondFactorEnrol:           "401  403  403  409  409  409  401  401  401",
        .recoveryCodes:               "401  403  403  401  401  401  401  401  401",
        .loginCodeForm:               "L    L    L    L    L    L    L    L    L",
        .loginCode:                   "401  401  401  401  401  401  403  403  403",
        .newsroomAccounts:            "401  403  403  403  403  200  401  401  401",
        .inviteAccount:               "401  403  403  403  403  422  401  401  401",
        .changeRoles:                 "401  403  403  403  403  401  401  401  401",
        .resetSecondFactor:           "401  403  403  403  403  401  401  401  401",
        .editor:                      "401  403  403  403  200  200  401  401  401",
        .createToken:                 "401  403  403  403  401  403  401  401  401",
        .revokeToken:                 "401  403  403  403  404  404  401  401  401",
        .oldEditor:                   "301  301  301  301  301  301  301  301  301",
        .newsroomAudit:               "401  403  403  403  403  200  401  401  401",
        .newsroomAuditCSV:            "401  403  403  403  403  200  401  401  401",
        .newsroomUrgentActions:       "401  403  403  200  200  200  401  401  401",
        .newsroomUrgentAction:        "401  403  403  200  200  200  401  401  401",
        .withdrawUrgentAction:        "401  403  403  403  422  403  401  401  401",
        .republishUrgentAction:       "401  403  403  403  409  403  401  401  401",
        .redactUrgentAction:          "401  403  403  403  422  403  401  401  401",
        .newsroomDrafts:              "401  403  403  200  200  200  401  401  401",
        .createDraft:                 "401  403  403  422  422  403  401  401  401",
        .editPublished:               "401  403  403  404  404  403  401  401  401",
        .newsroomDraft:               "401  403  403  200  200  200  401  401  401",
        .saveDraft:                   "401  403  403  400  400  403  401  401  401",
        .draftStep:                   "401  403  403  400  400  403  401  401  401",
        .draftRestore:                "401  403  403  400  400  403  401  401  401",
        .draftCompare:                "401  403  403  200  200  200  401  401  401",
        .createPreviewLink:           "401  403  403  403  422  403  401  401  401",
        .revokePreviewLink:           "401  403  403  403  404  403  401  401  401",
        .preview:                     "404  404  404  404  404  404  404  404  404",
        .devOutbox:                   "404  404  404  404  404  404  404  404  404",
        // The API.
        .apiOpenAPI:                  "200  200  200  200  200  200  200  200  200",
        .apiCases:                    "200  200  200  200  200  200  200  200  200",
        .apiCase:                     "200  200  200  200  200  200  200  200  200",
        .apiCreateCase:               "401  401  401  401  401  401  403  422  422",
        .apiReplaceCase:              "401  401  401  401  401  401  403  422  422",
        .apiCreateUrgentAction:       "401  401  401  401  401  401  403  422  422",
        .apiUrgentActions:            "200  200  200  200  200  200  200  200  200",
        .apiUrgentAction:             "200  200  200  200  200  200  200  200  200",
        .apiUrgentActionTotals:       "200  200  200  200  200  200  200  200  200",
        .apiUrgentActionDocuments:    "200  200  200  200  200  200  200  200  200",
        .apiUrgentActionDocument:     "200  200  200  200  200  200  200  200  200",
        .apiCreateDocument:           "401  401  401  401  401  401  403  422  422",
        .apiReplaceDocument:          "401  401  401  401  401  401  403  422  422",
        .apiDocuments:                "200  200  200  200  200  200  200  200  200",
        .apiDocument:                 "200  200  200  200  200  200  200  200  200",
        .apiTargets:                  "200  200  200  200  200  200  200  200  200",
        .apiTarget:                   "200  200  200  200  200  200  200  200  200",
        .apiCreateTarget:             "401  401  401  401  401  401  403  422  422",
        .apiReplaceTarget:            "401  401  401  401  401  401  403  422  422",
        .apiExport:                   "200  200  200  200  200  200  200  200  200",
        .apiBundles:                  "401  401  401  401  401  401  403  403  422",
        .apiTotals:                   "200  200  200  200  200  200  200  200  200",
        .apiWithdrawUrgentAction:     "401  401  401  401  401  401  403  422  422",
        .apiRepublishUrgentAction:    "401  401  401  401  401  401  403  409  409",
        .apiRedactUrgentAction:       "401  401  401  401  401  401  403  422  422",
        .apiDrafts:                   "401  401  401  401  401  401  200  200  200",
        .apiCreateDraft:              "401  401  401  401  401  401  403  422  422",
        .apiOpenDraft:                "401  401  401  401  401  401  403  422  422",
        .apiDraft:                    "401  401  401  401  401  401  200  200  200",
        .apiSaveDraft:                "401  401  401  401  401  401  403  422  422",
        .apiDraftRevision:            "401  401  401  401  401  401  200  200  200",
        .apiDraftSteps:               "401  401  401  401  401  401  403  422  422",
        .apiDraftRestore:             "401  401  401  401  401  401  403  422  422",
        .apiDraftCompare:             "401  401  401  401  401  401  200  200  200",
    ]

    // MARK: - The walk

    /// What one caller needs to make its requests.
    struct Caller: Sendable {
        var cookies: [String: String] = [:]
        var csrf: String?
        var bearer: String?

        var headers: HTTPHeaders {
            var h: HTTPHeaders = [:]
            if !cookies.isEmpty { h.add(name: "Cookie", value: cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ")) }
            if let bearer { h.add(name: .authorization, value: "Bearer \(bearer)") }
            return h
        }
    }

    /// The people and tokens of the matrix, made as the site makes them: supporters sign up,
    /// confirm and log in; newsroom accounts get one role each and enrol their second factor;
    /// tokens are made as `vigil token create --role publisher --scope …` makes them.
    struct Cast: Sendable {
        var callers: [Actor: Caller] = [:]
        var accounts: [Actor: UUID] = [:]
        var draft: UUID
    }

    static let password = AccountTests().password
    static func email(_ actor: Actor) -> String { "\(actor.rawValue.lowercased())@example.org" }

    static func cast(_ app: Application) async throws -> Cast {
        let auth = app.vigilServices.auth
        var callers: [Actor: Caller] = [:]
        var accounts: [Actor: UUID] = [:]
        for actor in Actor.allCases {
            if let scope = actor.scope {
                let token = try await APIToken.create(role: "publisher", scope: scope, label: "matrix \(scope)", on: app.db).token
                callers[actor] = Caller(bearer: token)
                continue
            }
            if actor == .anonymous {
                // A browser that opened a form: its anonymous CSRF cookie and the form's token.
                callers[actor] = Caller(cookies: [auth.csrfCookie: "matrix-anonymous"], csrf: auth.csrfToken(binding: "anon:matrix-anonymous"))
                continue
            }
            let b = Browser(app)
            if let roles = actor.roles {
                try await NewsroomLogin.account(app, b, email: email(actor), roles: roles)
            } else {
                try await AccountTests().signUpAndVerify(app, b, email: email(actor))
                let (login, _) = try await b.post("/login", ["email": email(actor), "password": password], csrfFrom: "/login")
                #expect(login.status == .seeOther)
            }
            let cookie = try #require(b.cookies[auth.sessionCookie], "\(actor) is logged in")
            let session = try #require(try await SessionModel.query(on: app.db).filter(\.$tokenHash == Auth.hash(cookie)).first())
            accounts[actor] = session.supporterID
            callers[actor] = Caller(cookies: b.cookies, csrf: auth.csrfToken(binding: "session:" + session.id!.uuidString))
        }
        let draft = try await app.vigilServices.drafts.create(.target, content: .object(["name": .string("Matrix draft")]), by: .system, on: app.db)
        return Cast(callers: callers, accounts: accounts, draft: draft.id!)
    }

    /// The values of a route's path parameters: the demo's (as `RouteHeadersTests` walks them),
    /// an open action for letters, the draft that exists, revision 1.
    static func values(_ name: Endpoint.Name, cast: Cast) -> [String] {
        var values: [String] = []
        var previous: String?
        let draftRoutes: Set<Endpoint.Name> = [.newsroomDraft, .saveDraft, .draftStep, .draftRestore, .draftCompare, .createPreviewLink,
                                               .revokePreviewLink, .apiDraft, .apiSaveDraft, .apiDraftRevision, .apiDraftSteps,
                                               .apiDraftRestore, .apiDraftCompare]
        for segment in name.segments {
            switch segment {
            case .literal(let l): previous = l
            case .parameter(let p):
                switch p {
                case .uuid where draftRoutes.contains(name): values.append(cast.draft.uuidString.lowercased())
                case .id where previous == "revisions": values.append("1")
                case .number where name == .letter || name == .translationLetter: values.append("77-26")
                case .language where name == .translationLetter: values.append("en")
                default: values.append(RouteHeadersTests.value(p, after: previous))
                }
            }
        }
        return values
    }

    /// Query values that make a page show something (a case to follow, a document to report on).
    static let queries: [Endpoint.Name: [String: String]] = [
        .followForm: ["case": "crimean-tatar-defenders-kuku"],
        .reportForm: ["document": "ua-77-26-0-en"],
        .chooseLanguage: ["to": "en", "next": "/urgent-actions"],
        .apiDraftCompare: ["a": "1", "b": "1"],
    ]

    /// A form's fields beyond the CSRF token: the language of the page it is on (every form of
    /// the site sends it), and where an empty form would be refused before the gate the cell is
    /// about, what takes it there: a log-in that fails (each caller its own address, so that the
    /// per-address limit is not what answers), a token's label (so that the role is checked).
    static func fields(_ name: Endpoint.Name, _ actor: Actor) -> [String: String] {
        switch name {
        case .login: ["lang": "en", "email": "nobody-\(actor.rawValue.lowercased())@example.org", "password": "not the password at all"]
        case .createToken: ["lang": "en", "label": "matrix"]
        default: ["lang": "en"]
        }
    }

    struct Answer: Equatable, CustomStringConvertible {
        var status: UInt
        var toLogin: Bool
        var description: String { toLogin && status == 303 ? "L" : String(status) }
    }

    static func request(_ app: Application, _ name: Endpoint.Name, _ actor: Actor, caller: Caller, cast: Cast) async throws -> Answer {
        let endpoint = Endpoint(name, values(name, cast: cast), query: queries[name] ?? [:])
        let path = name.isLocalized ? endpoint.in("en").path : endpoint.unlocalizedPath
        var headers = caller.headers
        var body: ByteBuffer?
        if name.method != .GET {
            // The matrix is about access, not about limits (RateLimitTests, AccountTests): a
            // caller's password is asked for again on several forms, more than five a minute.
            try await (app.db as! any SQLDatabase).raw("DELETE FROM rate_limits").run()
            if path.hasPrefix(Endpoint.apiRoot) {
                headers.add(name: .contentType, value: "application/json")
                body = ByteBuffer(string: "{}")
            } else {
                var form = fields(name, actor)
                if let csrf = caller.csrf { form["csrf"] = csrf }
                var allowed = CharacterSet.alphanumerics
                allowed.insert(charactersIn: "-._~")
                headers.add(name: .contentType, value: "application/x-www-form-urlencoded")
                body = ByteBuffer(string: form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.sorted().joined(separator: "&"))
            }
        }
        let res = try await app.testing().sendRequest(name.method, path, headers: headers, body: body) { req in req.url = URI(string: path) }
        var toLogin = false
        if let location = res.headers.first(name: .location) {
            let parts = location.split(separator: "?", maxSplits: 1).map(String.init)
            toLogin = Endpoint.parse(method: .GET, path: parts[0], query: parts.count > 1 ? parts[1] : nil)?.name == .loginForm
        }
        return Answer(status: res.status.code, toLogin: toLogin)
    }

    /// Routes that end the caller's session: walked last, each with a session of its own.
    static let endSessions: [Endpoint.Name] = [.logout, .logoutEverywhere]

    /// Every cell's answer, walked caller by caller.
    static func walk(_ app: Application, cast: Cast) async throws -> [Endpoint.Name: [Actor: Answer]] {
        var answers: [Endpoint.Name: [Actor: Answer]] = [:]
        let auth = app.vigilServices.auth
        let names = Endpoint.Name.allCases.filter { !endSessions.contains($0) } + endSessions
        for actor in Actor.allCases {
            for name in names {
                var caller = cast.callers[actor]!
                if endSessions.contains(name), let id = cast.accounts[actor] {
                    // A session of its own for the route that ends it (logging out everywhere
                    // ends this caller's sessions: it is the caller's last cell).
                    let (token, session) = try await auth.startSession(for: id, remember: false, editor: actor.roles != nil,
                                                                       secondFactor: actor.roles != nil, device: "matrix", on: app.db)
                    caller.cookies[auth.sessionCookie] = token
                    caller.csrf = auth.csrfToken(binding: "session:" + session.id!.uuidString)
                }
                answers[name, default: [:]][actor] = try await request(app, name, actor, caller: caller, cast: cast)
            }
        }
        return answers
    }

    /// What differs from the table: a route without a row, a row of the wrong length, a cell whose
    /// answer is not the one written.
    static func problems(_ answers: [Endpoint.Name: [Actor: Answer]]) -> [String] {
        var out: [String] = []
        for name in Endpoint.Name.allCases {
            guard let row = matrix[name] else {
                out.append("\(name): no row in AccessMatrixTests.matrix; every route says who may call it")
                continue
            }
            let cells = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard cells.count == Actor.allCases.count else {
                out.append("\(name): \(cells.count) cells, not \(Actor.allCases.count)")
                continue
            }
            for (actor, cell) in zip(Actor.allCases, cells) {
                guard let answer = answers[name]?[actor] else { continue }
                let allowed = cell.split(separator: "|").map(String.init)
                if !allowed.contains(answer.description) {
                    out.append("\(name) as \(actor): expected \(cell), got \(answer)")
                }
            }
        }
        return out
    }

    /// The table as it is, for a reader who must update a row.
    static func table(_ answers: [Endpoint.Name: [Actor: Answer]]) -> String {
        Endpoint.Name.allCases.map { name in
            let cells = Actor.allCases.map { answers[name]?[$0]?.description ?? "-" }
            return "        .\(name): \"\(cells.joined(separator: " "))\","
        }.joined(separator: "\n")
    }

    @Test(arguments: TestStorage.available) func everyRouteAnswersEveryCallerAsTheTableSays(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let cast = try await Self.cast(app)
            let answers = try await Self.walk(app, cast: cast)
            #expect(answers.count == Endpoint.Name.allCases.count && answers.values.allSatisfy { $0.count == Actor.allCases.count })
            let problems = Self.problems(answers)
            #expect(problems.isEmpty, "\(problems.count) cells:\n\(problems.joined(separator: "\n"))\n\nThe answers today:\n\(Self.table(answers))")
        }
    }

    // MARK: - One account's data is its own

    /// A supporter signed up, confirmed and logged in.
    static func supporter(_ app: Application, _ email: String) async throws -> Browser {
        let b = Browser(app)
        try await AccountTests().signUpAndVerify(app, b, email: email)
        let (login, _) = try await b.post("/login", ["email": email, "password": password], csrfFrom: "/login")
        #expect(login.status == .seeOther)
        return b
    }

    /// Everything of B's that A might reach by naming its id, as it stands.
    struct Holdings: Equatable {
        var sessions: [UUID], follows: [UUID], reports: [UUID], emailFollows: [UUID], email: String?, passwordHash: String?
        var totals: JSONValue?

        static func of(_ app: Application, _ id: UUID, email: String) async throws -> Holdings {
            let me = try await SupporterModel.find(id, on: app.db)
            return Holdings(
                sessions: try await SessionModel.query(on: app.db).filter(\.$supporterID == id).all().compactMap(\.id).sorted { $0.uuidString < $1.uuidString },
                follows: try await FollowModel.query(on: app.db).filter(\.$supporterID == id).all().compactMap(\.id).sorted { $0.uuidString < $1.uuidString },
                reports: try await ActionReportModel.query(on: app.db).filter(\.$supporterID == id).all().compactMap(\.id).sorted { $0.uuidString < $1.uuidString },
                emailFollows: try await EmailFollowModel.query(on: app.db).filter(\.$email == email).all().compactMap(\.id).sorted { $0.uuidString < $1.uuidString },
                email: me?.email, passwordHash: me?.passwordHash,
                totals: try await send(app, .GET, "/api/v1/totals").json)
        }
    }

    /// Supporter A, logged in, names B's session, follow, report and e-mail follow in every way the
    /// site takes an id or a signed link: nothing of B's is shown to A, and nothing changes.
    @Test(arguments: TestStorage.available) func aSupporterCanNeverReadOrChangeAnothersData(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let secret = app.vigilServices.secret
            let a = try await Self.supporter(app, "ana@example.org")
            let b = try await Self.supporter(app, "bea@example.org")
            let aID = try #require(try await SupporterModel.query(on: app.db).filter(\.$email == "ana@example.org").first()?.id)
            let bID = try #require(try await SupporterModel.query(on: app.db).filter(\.$email == "bea@example.org").first()?.id)

            // B follows a case, reports a letter, and follows another case by e-mail alone; A does too.
            for who in [a, b] {
                _ = try await who.post("/follow", ["case": ActionLoopTests.caseID], csrfFrom: "/follow?case=\(ActionLoopTests.caseID)")
                let (report, _) = try await who.post("/report", try await ActionLoopTests().form(who))
                #expect(report.status == .seeOther)
            }
            var dataTokens: [String: String] = [:]
            for email in ["ana@example.org", "bea@example.org"] {
                let visitor = Browser(app)
                let (asked, _) = try await ActionLoopTests().followByEmail(visitor, email, case: "demo-nour-hassan")
                #expect(asked.status == .ok)
                let mail = try #require(try await lastMail(to: email, app))
                let data = try #require(link(in: mail.textBody, path: "/follow/data?token="))
                dataTokens[email] = String(data.split(separator: "token=")[1].prefix { $0 != "&" }).removingPercentEncoding
                #expect(try await visitor.confirm(try #require(link(in: mail.textBody, path: "/follow/confirm?token="))).0.status == .ok)
            }
            let bSession = try #require(try await SessionModel.query(on: app.db).filter(\.$supporterID == bID).first()?.id)
            let bFollow = try #require(try await FollowModel.query(on: app.db).filter(\.$supporterID == bID).first()?.id)
            let bReport = try #require(try await ActionReportModel.query(on: app.db).filter(\.$supporterID == bID).first()?.id)
            let bEmailFollow = try #require(try await EmailFollowModel.query(on: app.db).filter(\.$email == "bea@example.org").first()?.id)
            let aFollow = try #require(try await FollowModel.query(on: app.db).filter(\.$supporterID == aID).first()?.id)
            let aEmailFollow = try #require(try await EmailFollowModel.query(on: app.db).filter(\.$email == "ana@example.org").first()?.id)
            let before = try await Holdings.of(app, bID, email: "bea@example.org")
            #expect(before.sessions.count == 1 && before.follows.count == 1 && before.reports.count == 1 && before.emailFollows.count == 1)

            // B's things by id, with A's session and A's own valid CSRF token.
            let csrf = try #require(Browser.csrf(in: try await a.get("/account").1))
            let (revoke, _) = try await a.post("/account/sessions/\(bSession.uuidString.lowercased())/revoke", ["csrf": csrf])
            #expect(revoke.status == .seeOther && revoke.headers.first(name: .location) == "/en/account", "the same answer as for any id")
            let (remove, _) = try await a.post("/account/follows/\(bFollow.uuidString.lowercased())/remove", ["csrf": csrf])
            #expect(remove.status == .seeOther)
            let (undo, _) = try await a.post("/account/reports/\(bReport.uuidString.lowercased())/undo", ["csrf": csrf])
            #expect(undo.status == .notFound)

            // What A reads holds nothing of B's: the account page, the export, the follow and report pages.
            let (account, accountHTML) = try await a.get("/account")
            #expect(account.status == .ok && accountHTML.contains("ana@example.org"))
            let (export, exportJSON) = try await a.get("/account/export.json")
            #expect(export.status == .ok && exportJSON.contains("ana@example.org"))
            let (followPage, followHTML) = try await a.get("/follow?case=\(ActionLoopTests.caseID)")
            #expect(followPage.status == .ok && followHTML.lowercased().contains(aFollow.uuidString.lowercased()), "A's own follow, to stop")
            for (what, text) in [("the account page", accountHTML), ("the export", exportJSON), ("the follow page", followHTML)] {
                for secretOfB in ["bea@example.org", bSession.uuidString.lowercased(), bFollow.uuidString.lowercased(), bReport.uuidString.lowercased(),
                                  bEmailFollow.uuidString.lowercased()] {
                    #expect(!text.lowercased().contains(secretOfB), "\(what) of A shows \(secretOfB)")
                }
            }
            #expect(exportJSON.contains(aEmailFollow.uuidString) || exportJSON.contains("demo-nour-hassan"), "A's own e-mail follow is in A's export")

            // Signed links: A's own, re-pointed at B's follows, are refused; so is one made up.
            let aData = try #require(dataTokens["ana@example.org"])
            #expect(aData.hasPrefix(aEmailFollow.uuidString))
            let forgedData = bEmailFollow.uuidString + aData.dropFirst(aEmailFollow.uuidString.count)
            for token in [forgedData, bEmailFollow.uuidString + ".1.AAAA", "x.y"] {
                let query = "token=" + Endpoint.percentEncode(token)
                #expect(try await a.get("/follow/data?\(query)").0.status == .badRequest, "\(token)")
                let csrfAnon = try #require(Browser.csrf(in: try await a.get("/follow/data?token=" + Endpoint.percentEncode(aData)).1))
                let (exported, body) = try await a.post("/follow/data/export.json", ["token": token, "csrf": csrfAnon])
                #expect(exported.status == .notFound && !body.contains("bea@example.org"))
                #expect(try await a.post("/follow/data/delete", ["token": token, "csrf": csrfAnon]).0.status == .notFound)
            }
            let aUnsubscribe = FollowController.unsubscribeToken(follow: aFollow, secret: secret)
            let aEmailUnsubscribe = EmailFollows.unsubscribeToken(aEmailFollow, secret: secret)
            let forgedUnsubscribe = [
                bFollow.uuidString + aUnsubscribe.dropFirst(aFollow.uuidString.count),
                "e." + bEmailFollow.uuidString + aEmailUnsubscribe.dropFirst(2 + aEmailFollow.uuidString.count),
                // An account follow's signature does not open an e-mail follow, nor the reverse.
                "e." + FollowController.unsubscribeToken(follow: bEmailFollow, secret: secret),
                String(EmailFollows.unsubscribeToken(bFollow, secret: secret).dropFirst(2)),
            ]
            for token in forgedUnsubscribe {
                let query = "token=" + Endpoint.percentEncode(token)
                #expect(try await a.get("/unsubscribe?\(query)").0.status == .badRequest, "\(token)")
                let one = try await send(app, .POST, "/unsubscribe?\(query)", headers: ["Content-Type": "application/x-www-form-urlencoded"],
                                         json: "List-Unsubscribe=One-Click", contentType: "application/x-www-form-urlencoded")
                #expect(one.status == .badRequest, "\(token)")
            }

            // B's data is as it was, and B is still logged in.
            let after = try await Holdings.of(app, bID, email: "bea@example.org")
            #expect(after == before)
            #expect(try await b.get("/account").0.status == .ok)
            // A's own links work: the refusals above were about B, not about A.
            #expect(try await a.get("/follow/data?token=" + Endpoint.percentEncode(aData)).0.status == .ok)
        }
    }

    /// A publisher cannot see or revoke another publisher's tokens, nor one made on the command line;
    /// a preview link is revoked only under its own draft; a made-up one opens nothing.
    @Test(arguments: TestStorage.available) func aPublisherCanNeverTouchAnothersTokens(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let p1 = Browser(app), p2 = Browser(app)
            try await NewsroomLogin.account(app, p1, email: "p1@example.org", roles: [.publisher])
            try await NewsroomLogin.account(app, p2, email: "p2@example.org", roles: [.publisher])
            let (made, page) = try await p2.post("/newsroom/tokens", ["label": "P2 secret tool", "scope": "read", "current": Self.password],
                                                 csrfFrom: "/newsroom/tokens")
            #expect(made.status == .ok)
            let t2 = try #require(page.firstMatch(of: #/vgl_[A-Za-z0-9_-]+/#).map { String($0.0) })
            let t2ID = try #require(try await APITokenModel.query(on: app.db).filter(\.$label == "P2 secret tool").first()?.id)
            let cli = try await APIToken.create(role: "publisher", scope: "read", label: "CLI tool", on: app.db)

            let (list, listHTML) = try await p1.get("/newsroom/tokens")
            #expect(list.status == .ok && !listHTML.contains("P2 secret tool") && !listHTML.contains(t2ID.uuidString.lowercased()))
            for id in [t2ID, cli.id] {
                let (revoke, _) = try await p1.post("/newsroom/tokens/\(id.uuidString.lowercased())/revoke", [:], csrfFrom: "/newsroom/tokens")
                #expect(revoke.status == .notFound)
            }
            for token in [t2, cli.token] {
                #expect(try await send(app, .GET, "/api/v1/drafts", headers: ["Authorization": "Bearer \(token)"]).status == .ok, "still valid")
            }
            #expect(try await APITokenModel.query(on: app.db).filter(\.$revokedAt != nil).count() == 0)

            // Preview links: revoked only under the draft they show.
            let drafts = app.vigilServices.drafts
            let d1 = try await drafts.create(.target, content: .object(["name": .string("One")]), by: .system, on: app.db)
            let d2 = try await drafts.create(.target, content: .object(["name": .string("Two")]), by: .system, on: app.db)
            let d1Path = "/newsroom/drafts/\(d1.id!.uuidString.lowercased())"
            let (linked, linkHTML) = try await p1.post(d1Path + "/preview-links", ["label": "Reviewer"], csrfFrom: d1Path)
            #expect(linked.status == .ok)
            let preview = try #require(linkHTML.firstMatch(of: #/http://127\.0\.0\.1:8080(/preview/[A-Za-z0-9_-]{43})/#).map { String($0.1) })
            let link = try #require(try await PreviewLinkModel.query(on: app.db).filter(\.$itemID == d1.id!).first())
            let d2Path = "/newsroom/drafts/\(d2.id!.uuidString.lowercased())"
            let (wrong, _) = try await p1.post(d2Path + "/preview-links/\(link.id!.uuidString.lowercased())/revoke", [:], csrfFrom: d2Path)
            #expect(wrong.status == .notFound)
            #expect(try await send(app, .GET, preview).status == .ok, "the link still opens its draft")
            #expect(try await send(app, .GET, "/preview/" + String(repeating: "A", count: 43)).status == .notFound)
            #expect(try await PreviewLinkModel.find(link.id, on: app.db)?.revokedAt == nil)
        }
    }
}
