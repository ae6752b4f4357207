import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

/// `/api/v1/drafts`: the newsroom's editorial workflow for API tokens — the same service
/// (`Drafts`), the same rules and the same audit trail as the newsroom's pages. A token acts with
/// its maker's roles as they are at each request (a token made on the command line with
/// `--role publisher` acts as a publisher), narrowed by its scope: `read` reads items, `write`
/// (or `import`) creates, saves and moves them.
extension APIController {
    func registerDrafts(_ r: Router) {
        // Unpublished work: no cache keeps an answer.
        let read: [any Middleware] = [NoStoreMiddleware(), EditorTokenMiddleware(scope: "read")]
        let write: [any Middleware] = [NoStoreMiddleware(), EditorTokenMiddleware(scope: "write")]
        r.on(.apiDrafts, middleware: read, use: listDrafts)
        r.on(.apiDraft, middleware: read, use: getDraft)
        r.on(.apiDraftRevision, middleware: read, use: getDraftRevision)
        r.on(.apiDraftCompare, middleware: read, use: compareDraftRevisions)
        r.on(.apiCreateDraft, middleware: write, maxBody: maxBodyBytes, use: createDraft)
        r.on(.apiOpenDraft, middleware: write, maxBody: maxBodyBytes, use: openDraft)
        r.on(.apiSaveDraft, middleware: write, maxBody: maxBodyBytes, use: saveDraft)
        r.on(.apiDraftSteps, middleware: write, maxBody: maxBodyBytes, use: stepDraft)
        r.on(.apiDraftRestore, middleware: write, maxBody: maxBodyBytes, use: restoreDraft)
    }

    // MARK: - Who acts

    /// The token's actor: its maker's roles as they are now (the middleware has checked that the
    /// maker still publishes and has a second factor), or a publisher for a command-line token.
    func draftActor(_ req: Request) async throws -> DraftActor {
        guard let id = req.storage[APITokenIDKey.self], let row = try await APITokenModel.find(id, on: req.db) else {
            throw Refusal(.unauthorized, "refusal_endpoint_needs_api_token", headers: ["WWW-Authenticate": "Bearer"])
        }
        if let maker = row.createdBy {
            guard let account = try await SupporterModel.find(maker, on: req.db), account.hasSecondFactor else {
                throw Refusal(.forbidden, "refusal_account_that_made_token_may")
            }
            return .token(id, roles: account.roles)
        }
        return .token(id, roles: row.role == "publisher" ? [.publisher] : [])
    }

    /// Runs a workflow call, answering its refusals as the other API errors are answered.
    func drafting(_ req: Request, _ body: (DraftActor) async throws -> Response) async throws -> Response {
        let actor = try await draftActor(req)
        do {
            return try await body(actor)
        } catch let stale as StaleSave {
            return jsonResponse(.object([
                "error": .bool(true),
                "reason": .string("The item changed since revision \(stale.base): it is at revision \(stale.current) now. "
                                  + "Nothing was written; compare the changes, then save again from revision \(stale.current)."),
                "code": .string(DraftRefusal.Reason.stale.rawValue),
                "base_revision": .number(Double(stale.base)),
                "current_revision": .number(Double(stale.current)),
                "changes": .array(stale.changes.map(Self.changeJSON)),
            ]), status: .conflict)
        } catch let refusal as DraftRefusal {
            var o: [String: JSONValue] = [
                "error": .bool(true),
                "reason": .string(Self.explain(refusal)),
                "code": .string(refusal.reason.rawValue),
            ]
            if refusal.reason == .invalid, let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)),
               let item = try await Drafts.item(id, on: req.db),
               let rev = try await Drafts.revision(item, item.currentRevision, on: req.db) {
                let problems = Drafts.problems(item, Drafts.parse(rev.content))
                if !problems.isEmpty { o["issues"] = Self.issuesJSON(problems) }
            }
            return jsonResponse(.object(o), status: refusal.status)
        }
    }

    /// The API's words for a refusal (the pages take theirs from the catalogues).
    static func explain(_ r: DraftRefusal) -> String {
        switch r.reason {
        case .notAllowed: return "This token acts with roles that may not do this: reviewing, approving, scheduling and publishing need a publisher."
        case .wrongState: return "The item is \(r.values["state"] ?? "elsewhere") now: this step does not apply to it."
        case .invalid:
            if let detail = r.values["detail"] { return "It cannot be published: \(detail)" }
            return "The content has problems to fix first; each is listed in issues."
        case .ownWork: return "Four eyes: the author of this revision (or who published it without review) cannot approve it; another publisher must."
        case .commentRequired: return "This step needs a comment."
        case .stale: return "The item changed since the revision given."
        case .notFuture: return "A schedule's time must be in the future: give at, an RFC 3339 date-time with its offset."
        case .tooFar: return "A schedule may be at most 366 days ahead."
        case .alreadyDone: return "Someone moved the item meanwhile, or this is done already: read it again."
        case .tooLarge:
            return "Too large: at most \(r.values["max"] ?? "?") " + (Int(r.values["max"] ?? "") ?? 0 > 1000 ? "characters." : "kB of JSON.")
        case .numberTaken: return r.values["detail"] ?? "\(r.values["label"] ?? "That number") exists already: leave number out to have the next number assigned."
        case .unknownRevision: return "There is no such item or revision."
        case .notPublished: return "The item is not published."
        case .controlCharacters: return "A comment must not contain control characters (such as NUL); line breaks are fine."
        case .contentControlCharacters: return "The content must not contain control characters (such as NUL) in any text or name; line breaks and tabs are fine."
        }
    }

    // MARK: - Reading

    /// `GET /api/v1/drafts?state=&kind=&limit=&cursor=`: items most recently changed first.
    func listDrafts(req: Request) async throws -> Response {
        let query = try Self.queryItems(req, allowed: ["state", "kind", "limit", "cursor"])
        var sqlQuery: SQLQueryString = "SELECT id FROM draft_items WHERE 1 = 1"
        if let s = query["state"] {
            guard DraftState(rawValue: s) != nil else {
                throw Refusal(.badRequest, "refusal_state_one_of", ["values": DraftState.allCases.map(\.rawValue).joined(separator: ", ")])
            }
            sqlQuery += " AND state = \(bind: s)"
        }
        if let k = query["kind"] {
            guard DraftKind(rawValue: k) != nil else { throw Refusal(.badRequest, "refusal_kind_case_target_document") }
            sqlQuery += " AND kind = \(bind: k)"
        }
        var limit = 20
        if let l = query["limit"] {
            guard let n = Int(l), (1...100).contains(n) else { throw Refusal(.badRequest, "refusal_limit_number_from_1_100") }
            limit = n
        }
        if let c = query["cursor"] {
            guard let parts = Cursor.decode(c), parts.count == 1, let after = UUID(uuidString: parts[0]) else {
                throw Refusal(.badRequest, "refusal_cursor_not_valid_pass_next")
            }
            // The stored time of the last item seen, compared in the database: exact on both databases.
            let at: SQLQueryString = "(SELECT updated_at FROM draft_items WHERE id = \(bind: after))"
            sqlQuery += " AND (updated_at < \(at) OR (updated_at = \(at) AND id > \(bind: after)))"
        }
        sqlQuery += " ORDER BY updated_at DESC, id ASC LIMIT \(literal: limit + 1)"
        let rows = try await (req.db as! any SQLDatabase).raw(sqlQuery).all()
        let ids = try rows.map { try $0.decode(column: "id", as: UUID.self) }
        let page = Array(ids.prefix(limit))
        let items = try await DraftItemModel.query(on: req.db).filter(\.$id ~~ page).all()
        let byID = Dictionary(uniqueKeysWithValues: items.map { ($0.id!, $0) })
        let data = page.compactMap { byID[$0] }.map(Self.itemJSON)
        let next = ids.count > limit ? page.last.map { Cursor.encode([$0.uuidString.lowercased()]) } : nil
        return jsonResponse(.object(["data": .array(data), "next_cursor": next.map(JSONValue.string) ?? .null]))
    }

    /// `GET /api/v1/drafts/{uuid}`: where it stands, its content, its problems, its history.
    func getDraft(req: Request) async throws -> Response {
        let item = try await draftItem(req)
        return jsonResponse(try await fullItemJSON(item, db: req.db))
    }

    /// `GET /api/v1/drafts/{uuid}/revisions/{n}`.
    func getDraftRevision(req: Request) async throws -> Response {
        let item = try await draftItem(req)
        let raw = req.endpoint[.id] ?? ""
        guard let n = Int(raw), n >= 1, String(n) == raw else {
            throw Refusal(.badRequest, "refusal_not_revision_number_1_2", ["value": "\(raw)"])
        }
        guard let rev = try await Drafts.revision(item, n, on: req.db) else {
            throw Refusal(.notFound, "refusal_item_has_no_revision_latest", ["n": "\(n)", "current_revision": "\(item.currentRevision)"])
        }
        return jsonResponse(.object([
            "item": .string(item.id!.uuidString.lowercased()),
            "number": .number(Double(rev.number)),
            "content": Drafts.parse(rev.content),
            "content_hash": .string(rev.contentHash),
            "author": Self.actorJSON(kind: rev.authorKind, id: rev.authorID),
            "comment": rev.comment.map(JSONValue.string) ?? .null,
            "created_at": .string(Self.timestamp(rev.createdAt)),
        ]))
    }

    /// `GET /api/v1/drafts/{uuid}/compare?a=1&b=2`: the fields that differ, by path.
    func compareDraftRevisions(req: Request) async throws -> Response {
        let item = try await draftItem(req)
        let query = try Self.queryItems(req, allowed: ["a", "b"])
        func revision(_ key: String) throws -> Int {
            guard let raw = query[key], let n = Int(raw), n >= 1 else {
                throw Refusal(.badRequest, "refusal_give_b_two_revision_numbers", ["current_revision": "\(item.currentRevision)"])
            }
            return n
        }
        let a = try revision("a"), b = try revision("b")
        guard let changes = try? await Drafts.compare(item, a, b, on: req.db) else {
            throw Refusal(.notFound, "refusal_item_has_revisions_1", ["current_revision": "\(item.currentRevision)"])
        }
        return jsonResponse(.object([
            "item": .string(item.id!.uuidString.lowercased()),
            "a": .number(Double(a)), "b": .number(Double(b)),
            "changes": .array(changes.map(Self.changeJSON)),
        ]))
    }

    // MARK: - Writing

    /// `POST /api/v1/drafts`: a new item with its first revision.
    func createDraft(req: Request) async throws -> Response {
        var body = try DraftBody(try jsonBody(req), allowed: ["kind", "content", "case", "urgent_action", "number", "translation_of", "comment"])
        let kindRaw = body.string("kind", required: true)
        let kind = kindRaw.flatMap(DraftKind.init(rawValue:))
        if kindRaw != nil, kind == nil { body.problem("$.kind", Message.catalogue("issue_case_target_document")) }
        let content = body.object("content", required: true)
        let comment = body.string("comment", max: Drafts.maxComment)
        let caseID = body.string("case", max: 128), uaRaw = body.string("urgent_action", max: 12), numberRaw = body.string("number", max: 12)
        let translationOf = body.string("translation_of", max: 128)
        if kind != .document {
            for (key, value) in [("case", caseID), ("urgent_action", uaRaw), ("number", numberRaw), ("translation_of", translationOf)] where value != nil {
                body.problem("$.\(key)", Message.catalogue("issue_only_for_document"))
            }
        }
        if let caseID, let p = Slug.issue(caseID) { body.problem("$.case", p) }
        if let translationOf, let p = Slug.issue(translationOf) { body.problem("$.translation_of", p) }
        let existing = uaRaw.flatMap { UANumber($0) ?? UANumber(slug: $0) }
        if uaRaw != nil, existing == nil { body.problem("$.urgent_action", Message.catalogue("issue_urgent_action_number_such_as")) }
        let typed = numberRaw.flatMap { UANumber($0) }
        if numberRaw != nil, typed == nil { body.problem("$.number", Message.catalogue("issue_number_such_as_126_19")) }
        if uaRaw != nil, numberRaw != nil { body.problem("$.number", Message.catalogue("issue_for_new_urgent_action_urgent")) }
        if kind == .document, uaRaw == nil, caseID == nil { body.problem("$.case", Message.catalogue("issue_required_for_document_new_urgent")) }
        try body.finish()
        let db = req.db
        // What the document belongs to.
        var number: UANumber? = typed
        var ofCase = caseID
        if let existing {
            guard let ua = try await UrgentActionModel.find(existing.slug, on: db) else {
                throw ValidationError([.init(path: "$.urgent_action", Message.catalogue("issue_there_no", ["ua": "\(existing.label)"]))])
            }
            number = existing
            if let caseID, caseID != ua.caseID {
                throw ValidationError([.init(path: "$.case", Message.catalogue("issue_but_belongs", ["case": "\(caseID)", "ua": "\(existing.label)", "owner": "\(ua.caseID)"]))])
            }
            ofCase = ua.caseID
        } else if let caseID {
            let stored = try await CaseModel.find(caseID, on: db) != nil
            let drafted = try await DraftItemModel.query(on: db).filter(\.$kind == DraftKind.kase.rawValue).filter(\.$subject == caseID).first() != nil
            guard stored || drafted else {
                throw ValidationError([.init(path: "$.case", Message.catalogue("issue_there_no_case_published_newsroom", ["case": "\(caseID)"]))])
            }
        }
        // A translation remembers the original as it was, to show when the original changes.
        var original: (id: String, hash: String)?
        // Only an id can name a published document (one holding a NUL would reach PostgreSQL).
        if let originalID = translationOf ?? content?.objectValue?["translation_of"]?.stringValue, kind == .document,
           Slug.issue(originalID) == nil {
            if let stored = try await Drafts.stored(.document, originalID, on: db) {
                original = (originalID, Drafts.hash(try Drafts.serialize(stored.value)))
            } else if translationOf != nil {
                throw ValidationError([.init(path: "$.translation_of", Message.catalogue("issue_there_no_published_document", ["id": "\(originalID)"]))])
            }
        }
        return try await drafting(req) { actor in
            let item = try await drafts.create(kind!, content: content!, caseID: ofCase, number: number, numberTyped: typed != nil,
                                               original: original, by: actor, comment: comment, on: db)
            return jsonResponse(try await fullItemJSON(item, db: db), status: .created,
                                location: Endpoint(.apiDraft, [item.id!.uuidString.lowercased()]).path)
        }
    }

    /// `POST /api/v1/drafts/open`: the item that edits a published case, target or document.
    func openDraft(req: Request) async throws -> Response {
        var body = try DraftBody(try jsonBody(req), allowed: ["kind", "subject"])
        let kindRaw = body.string("kind", required: true)
        let kind = kindRaw.flatMap(DraftKind.init(rawValue:))
        if kindRaw != nil, kind == nil { body.problem("$.kind", Message.catalogue("issue_case_target_document")) }
        let subject = body.string("subject", required: true, max: 128)
        if let subject, let p = Slug.issue(subject) { body.problem("$.subject", p) }
        try body.finish()
        return try await drafting(req) { actor in
            guard let item = try await drafts.openPublished(kind!, subject: subject!, by: actor, on: req.db) else {
                throw Refusal(.notFound, "refusal_there_no_published", ["kind": "\(kind!.rawValue)", "subject": "\(subject!)"])
            }
            return jsonResponse(try await fullItemJSON(item, db: req.db))
        }
    }

    /// `PUT /api/v1/drafts/{uuid}`: the next revision, from the revision the client started from.
    func saveDraft(req: Request) async throws -> Response {
        let id = try draftID(req)
        var body = try DraftBody(try jsonBody(req), allowed: ["base_revision", "content", "comment"])
        let base = body.int("base_revision", required: true)
        let content = body.object("content", required: true)
        let comment = body.string("comment", max: Drafts.maxComment)
        try body.finish()
        guard try await Drafts.item(id, on: req.db) != nil else { throw Refusal(.notFound, "refusal_there_no_such_item") }
        return try await drafting(req) { actor in
            let item = try await drafts.save(id, content: content!, base: base!, by: actor, comment: comment, on: req.db)
            return jsonResponse(try await fullItemJSON(item, db: req.db))
        }
    }

    /// `POST /api/v1/drafts/{uuid}/restore`: an earlier revision's content as the next revision.
    func restoreDraft(req: Request) async throws -> Response {
        let id = try draftID(req)
        var body = try DraftBody(try jsonBody(req), allowed: ["revision", "base_revision"])
        let revision = body.int("revision", required: true)
        let base = body.int("base_revision", required: true)
        try body.finish()
        guard try await Drafts.item(id, on: req.db) != nil else { throw Refusal(.notFound, "refusal_there_no_such_item") }
        return try await drafting(req) { actor in
            let item = try await drafts.restore(id, revision: revision!, base: base!, by: actor, on: req.db)
            return jsonResponse(try await fullItemJSON(item, db: req.db))
        }
    }

    /// `POST /api/v1/drafts/{uuid}/steps`: submit, request_changes, approve, schedule, unschedule,
    /// publish, publish_without_review, mark_reviewed — of the revision the client saw.
    func stepDraft(req: Request) async throws -> Response {
        let id = try draftID(req)
        var body = try DraftBody(try jsonBody(req), allowed: ["step", "revision", "comment", "at", "zone"])
        let stepRaw = body.string("step", required: true)
        let step = stepRaw.flatMap(Drafts.Step.init(rawValue:))
        if stepRaw != nil, step == nil {
            body.problem("$.step", Message.catalogue("issue_is_one_of", ["values": Drafts.Step.allCases.map(\.rawValue).joined(separator: ", ")]))
        }
        let revision = body.int("revision", required: true)
        let comment = body.string("comment", max: Drafts.maxComment)
        let atRaw = body.string("at", max: 40), zoneRaw = body.string("zone", max: 64)
        var at: Date?
        if let atRaw {
            at = Self.parseTimestamp(atRaw)
            if at == nil { body.problem("$.at", Message.catalogue("issue_rfc_3339_date_time_offset")) }
        }
        if let zoneRaw, TimeZone(identifier: zoneRaw) == nil { body.problem("$.zone", Message.catalogue("issue_time_zone_name_such_as")) }
        if step == .schedule, atRaw == nil { body.problem("$.at", Message.catalogue("issue_required_schedule")) }
        if let step, step != .schedule {
            if atRaw != nil { body.problem("$.at", Message.catalogue("issue_only_for_schedule")) }
            if zoneRaw != nil { body.problem("$.zone", Message.catalogue("issue_only_for_schedule")) }
        }
        try body.finish()
        guard try await Drafts.item(id, on: req.db) != nil else { throw Refusal(.notFound, "refusal_there_no_such_item") }
        return try await drafting(req) { actor in
            let item = try await drafts.step(step!, id, revision: revision!, by: actor, comment: comment, at: at, zone: zoneRaw, on: req.db)
            return jsonResponse(try await fullItemJSON(item, db: req.db))
        }
    }

    // MARK: - Pieces

    func draftID(_ req: Request) throws -> UUID {
        guard let id = req.endpoint[.uuid].flatMap(UUID.init(uuidString:)) else { throw Refusal(.notFound, "refusal_there_no_such_item") }
        return id
    }

    func draftItem(_ req: Request) async throws -> DraftItemModel {
        guard let item = try await Drafts.item(try draftID(req), on: req.db) else { throw Refusal(.notFound, "refusal_there_no_such_item") }
        return item
    }

    /// The query's values, refusing unknown and repeated keys (typos surface).
    static func queryItems(_ req: Request, allowed: Set<String>) throws -> [String: String] {
        var out: [String: String] = [:]
        for pair in (req.url.query ?? "").split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            let value = kv.count > 1 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "") : ""
            guard allowed.contains(key) else {
                throw Refusal(.badRequest, "refusal_unknown_parameter", ["key": key, "parameters": allowed.sorted().joined(separator: ", ")])
            }
            guard out[key] == nil else { throw Refusal(.badRequest, "refusal_given_twice", ["key": "\(key)"]) }
            if !value.isEmpty { out[key] = value }
        }
        return out
    }

    /// `2026-12-01T08:00:00Z`: whole seconds, in UTC.
    static func timestamp(_ date: Date) -> String { ClockText.iso(date) }

    /// An RFC 3339 date-time with its offset, with or without fractions of a second.
    static func parseTimestamp(_ s: String) -> Date? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let d = plain.date(from: s) { return d }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: s)
    }

    /// `126/19`, however the item keeps it (`126/19` or `UA 126/19`).
    static func numberText(_ stored: String) -> String {
        let bare = stored.hasPrefix("UA ") ? String(stored.dropFirst(3)) : stored
        return UANumber(bare)?.description ?? stored
    }

    static func changeJSON(_ c: FieldChange) -> JSONValue {
        .object(["path": .string(c.path), "before": c.before.map(JSONValue.string) ?? .null, "after": c.after.map(JSONValue.string) ?? .null])
    }

    static func issuesJSON(_ issues: [ValidationIssue]) -> JSONValue {
        .array(issues.map { .object(["path": .string($0.path), "message": .string(Localized.strings.text($0))]) })
    }

    static func actorJSON(kind: String, id: UUID?) -> JSONValue {
        .object(["kind": .string(kind), "id": id.map { .string($0.uuidString.lowercased()) } ?? .null])
    }

    /// An item as lists show it: where it stands, without its content.
    static func itemJSON(_ item: DraftItemModel) -> JSONValue {
        func int(_ n: Int?) -> JSONValue { n.map { .number(Double($0)) } ?? .null }
        func str(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        func time(_ d: Date?) -> JSONValue { d.map { .string(timestamp($0)) } ?? .null }
        return .object([
            "id": .string(item.id!.uuidString.lowercased()),
            "kind": .string(item.kind),
            "state": .string(item.state),
            "title": .string(item.title),
            "language": str(item.language),
            "subject": str(item.subject),
            "case": str(item.caseID),
            "urgent_action": str(item.uaNumber.map(Self.numberText)),
            "number_typed": .bool(item.numberTyped),
            "current_revision": .number(Double(item.currentRevision)),
            "approved_revision": int(item.approvedRevision),
            "published_revision": int(item.publishedRevision),
            "scheduled_at": time(item.scheduledAt),
            "schedule_zone": str(item.scheduleZone),
            "scheduled_by": str(item.scheduledBy?.uuidString.lowercased()),
            "published_at": time(item.publishedAt),
            "late_seconds": int(item.lateSeconds),
            "review_after_publishing": .bool(item.emergency),
            "missed_schedule": str(item.lastError),
            "translation_of": str(item.originalID),
            "created_by": str(item.createdBy?.uuidString.lowercased()),
            "created_at": .string(timestamp(item.createdAt)),
            "updated_at": .string(timestamp(item.updatedAt)),
        ])
    }

    /// An item with its current content, the problems that stop it from being submitted (with
    /// their JSON paths), its revisions (newest first, without content) and its events (newest first).
    func fullItemJSON(_ item: DraftItemModel, db: any Database) async throws -> JSONValue {
        guard case .object(var o) = Self.itemJSON(item) else { return .null }
        let content = try await Drafts.revision(item, item.currentRevision, on: db).map { Drafts.parse($0.content) } ?? .object([:])
        o["content"] = content
        o["problems"] = Self.issuesJSON(Drafts.problems(item, content))
        let rows = try await (db as! any SQLDatabase).raw("""
            SELECT number, author_kind, author_id, comment, created_at, content_hash FROM draft_revisions
            WHERE item_id = \(bind: item.id!) ORDER BY number DESC LIMIT 200
            """).all()
        o["revisions"] = .array(try rows.map { row in
            .object([
                "number": .number(Double(try row.decode(column: "number", as: Int.self))),
                "author": Self.actorJSON(kind: try row.decode(column: "author_kind", as: String.self),
                                         id: try row.decode(column: "author_id", as: UUID?.self)),
                "comment": (try row.decode(column: "comment", as: String?.self)).map(JSONValue.string) ?? .null,
                "created_at": .string(Self.timestamp(try row.decode(column: "created_at", as: Date.self))),
                "content_hash": .string(try row.decode(column: "content_hash", as: String.self)),
            ])
        })
        o["events"] = .array(try await Drafts.events(item, on: db).map { e in
            .object([
                "at": .string(Self.timestamp(e.at)),
                "actor": Self.actorJSON(kind: e.actorKind, id: e.actorID),
                "action": .string(e.action),
                "from": .string(e.fromState), "to": .string(e.toState),
                "revision": .number(Double(e.revision)),
                "comment": e.comment.map(JSONValue.string) ?? .null,
            ])
        })
        return .object(o)
    }
}

/// Marks every answer `Cache-Control: no-store`.
struct NoStoreMiddleware: AsyncMiddleware {
    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let response = try await next.respond(to: request)
        response.headers.replaceOrAdd(name: .cacheControl, value: "no-store")
        return response
    }
}

/// A workflow request's JSON body, member by member: every problem (a missing member, a wrong
/// type, an unknown member) is collected with its path and answered at once with 422.
struct DraftBody {
    let members: [String: JSONValue]
    private var issues: [ValidationIssue] = []

    init(_ value: JSONValue, allowed: Set<String>) throws {
        guard case .object(let o) = value else {
            throw ValidationError([.init(path: "$", Message("issue_must_be_object", "must be an object, not {type}", ["type": value.typeTerm]))])
        }
        members = o
        for key in o.keys.sorted() where !allowed.contains(key) {
            issues.append(.init(path: "$.\(key)", Message.catalogue("issue_not_member_of_request", ["members": allowed.sorted().joined(separator: ", ")])))
        }
    }

    mutating func problem(_ path: String, _ message: Message) { issues.append(.init(path: path, message)) }

    private mutating func member(_ key: String, required: Bool) -> JSONValue? {
        guard let v = members[key], v != .null else {
            if required { problem("$.\(key)", Message.catalogue("issue_required")) }
            return nil
        }
        return v
    }

    mutating func string(_ key: String, required: Bool = false, max: Int = 200) -> String? {
        guard let v = member(key, required: required) else { return nil }
        guard case .string(let s) = v else { problem("$.\(key)", Message("issue_must_be_string", "must be a string, not {type}", ["type": v.typeTerm])); return nil }
        let t = s.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty else {
            if required { problem("$.\(key)", Message.catalogue("issue_not_empty")) }
            return nil
        }
        guard t.count <= max else { problem("$.\(key)", Message.catalogue("issue_must_at_most_characters", ["max": "\(max)"])); return nil }
        return t
    }

    mutating func int(_ key: String, required: Bool = false) -> Int? {
        guard let v = member(key, required: required) else { return nil }
        guard case .number(let n) = v, n.rounded() == n, n >= 1, n <= 1_000_000_000 else {
            problem("$.\(key)", Message.catalogue("issue_revision_number", terms: ["value": v.typeName == "a number" ? .text(v.serialized(pretty: false)) : v.typeTerm]))
            return nil
        }
        return Int(n)
    }

    mutating func object(_ key: String, required: Bool = false) -> JSONValue? {
        guard let v = member(key, required: required) else { return nil }
        guard case .object = v else { problem("$.\(key)", Message("issue_must_be_object", "must be an object, not {type}", ["type": v.typeTerm])); return nil }
        return v
    }

    func finish() throws {
        if !issues.isEmpty { throw ValidationError(issues) }
    }
}
