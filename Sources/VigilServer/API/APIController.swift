import Fluent
import Foundation
import NIOConcurrencyHelpers
import SQLKit
import Vapor
import VigilCore

/// `/api/v1`: cases, urgent actions, documents, targets and bundles in the shapes of the
/// interchange format.
struct APIController: UsesServices {
    let services: VigilServices
    /// Largest JSON body a write accepts (`VIGIL_MAX_BODY_BYTES`); forms elsewhere take far less.
    var maxBodyBytes: Int { services.configuration.maxBodyBytes }

    func register(_ r: Router) {
        r.on(.apiOpenAPI, use: openAPI)
        r.on(.apiCases, use: listCases)
        r.on(.apiCase, use: getCase)
        r.on(.apiUrgentActions, use: listUrgentActions)
        r.on(.apiUrgentAction, use: getUrgentAction)
        r.on(.apiUrgentActionDocuments, use: listDocumentsOfUA)
        r.on(.apiUrgentActionDocument, use: getDocumentOfUA)
        r.on(.apiDocuments, use: listDocuments)
        r.on(.apiDocument, use: getDocument)
        r.on(.apiTargets, use: listTargets)
        r.on(.apiTarget, use: getTarget)
        r.on(.apiExport, use: exportBundle)
        let write: [any Middleware] = [EditorTokenMiddleware(scope: "write")]
        r.on(.apiCreateCase, middleware: write, maxBody: maxBodyBytes, use: createCase)
        r.on(.apiReplaceCase, middleware: write, maxBody: maxBodyBytes, use: replaceCase)
        r.on(.apiCreateTarget, middleware: write, maxBody: maxBodyBytes, use: createTarget)
        r.on(.apiReplaceTarget, middleware: write, maxBody: maxBodyBytes, use: replaceTarget)
        r.on(.apiCreateDocument, middleware: write, maxBody: maxBodyBytes, use: createDocument)
        r.on(.apiCreateUrgentAction, middleware: write, maxBody: maxBodyBytes, use: createUrgentAction)
        r.on(.apiReplaceDocument, middleware: write, maxBody: maxBodyBytes, use: replaceDocument)
        r.on(.apiWithdrawUrgentAction, middleware: write, maxBody: maxBodyBytes, use: withdrawUrgentAction)
        r.on(.apiRepublishUrgentAction, middleware: write, maxBody: maxBodyBytes, use: republishUrgentAction)
        r.on(.apiRedactUrgentAction, middleware: write, maxBody: maxBodyBytes, use: redactUrgentAction)
        r.on(.apiBundles, middleware: [EditorTokenMiddleware(scope: "import")], maxBody: maxBodyBytes, use: importBundle)
        registerDrafts(r)
    }

    /// Every write goes through the publisher: checked, written in one transaction with its
    /// alerts and its publishing-log entry, and the cached pages it affects dropped.
    func publish(_ req: Request, _ change: Publisher.Change) async throws -> Publisher.Result {
        try await publisher.publish(change, by: req.publishingAuthor, on: req.db)
    }

    // MARK: - OpenAPI

    /// The OpenAPI document of this build, once read (it does not change while the server runs).
    private static let openAPIDocument = NIOLockedValueBox<ByteBuffer?>(nil)

    func openAPI(req: Request) async throws -> Response {
        var document = Self.openAPIDocument.withLockedValue { $0 }
        if document == nil {
            // Read on the blocking pool: the handler runs on an event loop.
            let url = VigilHome.currentDataFile("openapi.json")
            let read = try await req.application.threadPool.runIfActive { url.flatMap { try? Data(contentsOf: $0) } }
            guard let data = read else {
                throw Refusal(.internalServerError, "refusal_openapi_document_missing_from_build")
            }
            let bytes = ByteBuffer(data: data)
            Self.openAPIDocument.withLockedValue { $0 = bytes }
            document = bytes
        }
        var headers = HTTPHeaders()
        headers.contentType = .json
        return Response(status: .ok, headers: headers, body: .init(buffer: document!))
    }

    // MARK: - Path parameters

    func slugParameter(_ req: Request, _ name: String, what: String) throws -> String {
        let v = req.endpoint[.id] ?? ""
        if let p = Slug.issue(v) { throw Refusal(.badRequest, "refusal_\(what)_id_problem", terms: ["problem": p]) }
        return v
    }

    func uaParameter(_ req: Request) throws -> UANumber {
        let raw = req.endpoint[.number] ?? ""
        guard let n = UANumber(slug: raw) else {
            throw Refusal(.badRequest, "refusal_not_urgent_action_number_write", ["value": "\(raw)"])
        }
        return n
    }

    // MARK: - Cases

    /// Runs a list query: ids and sort keys of one page (one more row tells whether a next page exists).
    func pageOfKeys(_ db: any Database, _ q: CatalogueQuery, _ subject: CatalogueQuery.Subject, select: SQLQueryString,
                    after: SQLQueryString?, order: SQLQueryString, columns: [String]) async throws -> (keys: [[String]], next: [String]?) {
        var query: SQLQueryString = "SELECT \(select) \(CatalogueQuery.from(subject)) WHERE 1 = 1"
        query += q.conditions(subject)
        if let after { query += after }
        query += " ORDER BY \(order) LIMIT \(literal: q.limit + 1)"
        let rows = try await (db as! any SQLDatabase).raw(query).all()
        let keys = try rows.map { row in try columns.map { try row.decode(column: $0, as: String.self) } }
        let page = Array(keys.prefix(q.limit))
        return (page, keys.count > q.limit ? page.last : nil)
    }

    /// A public list, answered from the page cache: built once per content version (any
    /// published change drops it, in every process) and per day (what stands open changes at
    /// midnight: the query's `today` is in the key and is the day its build reads), with an ETag,
    /// `Last-Modified` and 304 like the pages. Its query is checked before, so that a refusal is
    /// never cached, and keyed as checked (`canonicalKey`), so that respellings of one query share
    /// one entry.
    /// `fastPath: false` when the route looked at the database before (see `PageCache.respondBytes`).
    func cachedList(_ req: Request, _ q: CatalogueQuery, fastPath: Bool = true,
                    build: @escaping @Sendable () async throws -> JSONValue) async throws -> Response {
        let key = "api|\(req.url.path)|\(q.canonicalKey)"
        // On the cache's shelf for queries: cursors and filters are whatever a client sends.
        return try await cache.respond(to: req, key: key, contentType: "application/json; charset=utf-8",
                                       cacheControl: "public, max-age=60", fastPath: fastPath, shelf: .queries) {
            (try await build().serialized(pretty: true), [CacheTag.listing])
        }
    }

    /// A cached list ordered by id (cases, targets): the page's ids, then `items` reads them.
    func listByID(_ req: Request, _ q: CatalogueQuery, _ subject: CatalogueQuery.Subject, alias: String,
                  items: @escaping @Sendable (Store, [String]) async throws -> [JSONValue]) async throws -> Response {
        let db = req.db
        return try await cachedList(req, q) {
            let (keys, next) = try await pageOfKeys(db, q, subject, select: "\(unsafeRaw: alias).id",
                                                    after: q.cursor.map { " AND \(unsafeRaw: alias).id > \(bind: $0[0])" },
                                                    order: "\(unsafeRaw: alias).id", columns: ["id"])
            return page(try await items(Store(db: db), keys.map { $0[0] }), limit: q.limit, next: next)
        }
    }

    func listCases(req: Request) async throws -> Response {
        let q = try CatalogueQuery(req.url.query, allowed: [.country, .theme, .status, .updatedSince, .limit, .cursor])
        return try await listByID(req, q, .cases, alias: "c") { try await $0.cases(ids: $1).map(\.json) }
    }

    func getCase(req: Request) async throws -> Response {
        let id = try slugParameter(req, "id", what: "case")
        guard let c = try await Store(db: req.db).cases(ids: [id]).first else {
            throw Refusal(.notFound, "refusal_there_no_case", ["id": "\(id)"])
        }
        return jsonResponse(c.json)
    }

    func createCase(req: Request) async throws -> Response {
        let kase = try readCase(try jsonBody(req))
        _ = try await publish(req, .createCase(kase))
        let stored = try await Store(db: req.db).cases(ids: [kase.id]).first!
        return jsonResponse(stored.json, status: .created, location: Endpoint.apiCase(kase.id).path)
    }

    func replaceCase(req: Request) async throws -> Response {
        let id = try slugParameter(req, "id", what: "case")
        var body = try jsonBody(req)
        if case .object(var o) = body, o["id"] == nil { o["id"] = .string(id); body = .object(o) }
        let kase = try readCase(body)
        guard kase.id == id else {
            throw ValidationError([.init(path: "$.id", Message.catalogue("issue_but_url_names", ["id": "\(kase.id)", "url_id": "\(id)"]))])
        }
        let result = try await publish(req, .replaceCase(kase))
        let stored = try await Store(db: req.db).cases(ids: [id]).first!
        return jsonResponse(stored.json, status: result.createdSubject ? .created : .ok)
    }

    func readCase(_ body: JSONValue) throws -> Case {
        let d = Diagnostics()
        let c = Case.read(body, path: "$", diagnostics: d)
        try d.throwIfAny()
        return c!
    }

    // MARK: - Urgent actions

    func listUrgentActions(req: Request) async throws -> Response {
        let q = try CatalogueQuery(req.url.query, allowed: [.country, .theme, .status, .kind, .language, .updatedSince, .caseID, .limit, .cursor, .view])
        let db = req.db
        return try await cachedList(req, q) {
            let (keys, next) = try await pageOfKeys(db, q, .urgentActions, select: "u.id, u.sort_key",
                                                    after: q.cursor.map { " AND u.sort_key < \(bind: $0[0])" },
                                                    order: "u.sort_key DESC", columns: ["id", "sort_key"])
            let items = try await urgentActionJSON(ids: keys.map { $0[0] }, db: db, view: q.view, today: q.today)
            return page(items, limit: q.limit, next: next.map { [$0[1]] })
        }
    }

    /// A document as a list shows it: whole, or its summary with the address of the whole (`href`).
    static func listed(_ document: Document, number: UANumber, view: CatalogueQuery.View) -> JSONValue {
        guard view == .summary, case .object(var o) = document.summaryJSON else { return document.json }
        o["href"] = .string(Endpoint.apiDocument(number, document.id).path)
        return .object(o)
    }

    /// Urgent actions as in the bundle, with the id of their case added; in a `summary` their
    /// documents are summaries (`listed`).
    func urgentActionJSON(ids: [String], db: any Database, view: CatalogueQuery.View = .full,
                          today: String = ActionClock.current.today()) async throws -> [JSONValue] {
        guard !ids.isEmpty else { return [] }
        let rows = try await UrgentActionModel.query(on: db).filter(\.$id ~~ ids).filter(\.$withdrawnAt == nil).all()
        let docs = Dictionary(grouping: try await Store(db: db).documents(urgentActionIDs: ids), by: \.uaID)
        let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.id!, $0) })
        return ids.compactMap { id in
            guard let row = byID[id], let number = UANumber(row.number) else { return nil }
            let ua = UrgentAction(number: number, status: UrgentActionStatus(rawValue: row.status) ?? .open,
                                  documents: (docs[id] ?? []).map(\.document))
            guard case .object(var o) = ua.json else { return nil }
            if view == .summary { o["documents"] = .array(ua.documents.map { Self.listed($0, number: number, view: view) }) }
            o["case"] = .string(row.caseID)
            // Where it stands today, as every page and list reads it (`ActionStanding`).
            let deadline = row.deadline.flatMap(PartialDate.init)
            o["standing"] = .string(ActionStanding.of(status: ua.status, deadline: deadline, today: today).rawValue)
            o["deadline_in_force"] = deadline.map { .string($0.description) } ?? .null
            return .object(o)
        }
    }

    func getUrgentAction(req: Request) async throws -> Response {
        let number = try uaParameter(req)
        try await Withdrawal.check(number, on: req.db)
        guard let item = try await urgentActionJSON(ids: [number.slug], db: req.db).first else {
            throw Refusal(.notFound, "refusal_there_no_ua", ["ua": "\(number.label)"])
        }
        return jsonResponse(item)
    }

    func listDocumentsOfUA(req: Request) async throws -> Response {
        let number = try uaParameter(req)
        let q = try CatalogueQuery(req.url.query, allowed: [.view])
        let view = q.view
        guard let ua = try await UrgentActionModel.find(number.slug, on: req.db) else {
            throw Refusal(.notFound, "refusal_there_no_ua", ["ua": "\(number.label)"])
        }
        if ua.withdrawnAt != nil { throw Withdrawal.gone }
        let db = req.db
        // Withdrawn is checked above on every request: never answered without that look.
        return try await cachedList(req, q, fastPath: false) {
            let docs = try await Store(db: db).documents(urgentActionIDs: [number.slug])
            return page(docs.map { Self.listed($0.document, number: number, view: view) }, limit: 1000, next: nil)
        }
    }

    func getDocumentOfUA(req: Request) async throws -> Response {
        let number = try uaParameter(req)
        let id = try slugParameter(req, "document", what: "document")
        try await Withdrawal.check(number, on: req.db)
        guard let doc = try await Store(db: req.db).documents(ids: [id]).first, doc.uaID == number.slug else {
            throw Refusal(.notFound, "refusal_has_no_document", ["ua": "\(number.label)", "id": "\(id)"])
        }
        return jsonResponse(doc.document.json)
    }

    // MARK: - Documents

    func listDocuments(req: Request) async throws -> Response {
        let q = try CatalogueQuery(req.url.query, allowed: [.country, .theme, .status, .kind, .language, .updatedSince, .caseID, .limit, .cursor, .view])
        var after: SQLQueryString?
        if let cursor = q.cursor {
            guard cursor.count == 2 else { throw Refusal(.badRequest, "refusal_cursor_not_valid_pass_next") }
            after = " AND (d.published < \(bind: cursor[0]) OR (d.published = \(bind: cursor[0]) AND d.id > \(bind: cursor[1])))"
        }
        let db = req.db
        return try await cachedList(req, q) { [after] in
            let (keys, next) = try await pageOfKeys(db, q, .documents, select: "d.id, d.published", after: after,
                                                    order: "d.published DESC, d.id ASC", columns: ["id", "published"])
            let docs = try await documentJSON(ids: keys.map { $0[0] }, db: db, view: q.view)
            return page(docs, limit: q.limit, next: next.map { [$0[1], $0[0]] })
        }
    }

    /// Documents as in the bundle (or their summaries, `listed`), with their urgent action's
    /// number and case added. `includeWithdrawn`: only for the answer to a newsroom write (`Withdrawal`).
    func documentJSON(ids: [String], db: any Database, includeWithdrawn: Bool = false, view: CatalogueQuery.View = .full) async throws -> [JSONValue] {
        guard !ids.isEmpty else { return [] }
        let docs = try await Store(db: db, includeWithdrawn: includeWithdrawn).documents(ids: ids)
        let uas = try await UrgentActionModel.query(on: db).filter(\.$id ~~ Array(Set(docs.map(\.uaID)))).all()
        let uaByID = Dictionary(uniqueKeysWithValues: uas.map { ($0.id!, $0) })
        let byID = Dictionary(uniqueKeysWithValues: docs.map { ($0.document.id, $0) })
        return ids.compactMap { id in
            guard let d = byID[id], let ua = uaByID[d.uaID], let number = UANumber(ua.number),
                  case .object(var o) = Self.listed(d.document, number: number, view: view) else { return nil }
            o["urgent_action"] = .string(ua.number)
            o["case"] = .string(ua.caseID)
            return .object(o)
        }
    }

    func getDocument(req: Request) async throws -> Response {
        let id = try slugParameter(req, "document", what: "document")
        try await Withdrawal.check(document: id, on: req.db)
        guard let doc = try await documentJSON(ids: [id], db: req.db).first else {
            throw Refusal(.notFound, "refusal_there_no_document", ["id": "\(id)"])
        }
        return jsonResponse(doc)
    }

    func createDocument(req: Request) async throws -> Response {
        try await writeDocument(req: req, replacing: nil)
    }

    func replaceDocument(req: Request) async throws -> Response {
        let id = try slugParameter(req, "document", what: "document")
        return try await writeDocument(req: req, replacing: id)
    }

    /// Creates or replaces one document of an existing urgent action. An outcome closes the action.
    func writeDocument(req: Request, replacing id: String?) async throws -> Response {
        let number = try uaParameter(req)
        var body = try jsonBody(req)
        if let id, case .object(var o) = body, o["id"] == nil { o["id"] = .string(id); body = .object(o) }
        let d = Diagnostics()
        let doc = Document.read(body, path: "$", diagnostics: d)
        try d.throwIfAny()
        guard let doc else { throw Refusal(.badRequest, "refusal_document_could_not_read") }
        let created = try await publish(req, .document(number, doc, replacing: id)).createdSubject
        // A document of a withdrawn action may be corrected while it is down: answer with it all the same.
        guard let stored = try await documentJSON(ids: [doc.id], db: req.db, includeWithdrawn: true).first else {
            throw Refusal(.internalServerError, "refusal_document_was_written_but_cannot")
        }
        return jsonResponse(stored, status: created ? .created : .ok,
                            location: created ? Endpoint.apiDocument(number, doc.id).path : nil)
    }

    // MARK: - Withdrawal for safety

    /// `POST …/urgent-actions/{number}/withdraw` with `{"reason": "…"}` (required, internal).
    func withdrawUrgentAction(req: Request) async throws -> Response {
        let number = try uaParameter(req)
        let body = try jsonBody(req)
        guard case .object = body else { throw ValidationError([.init(path: "$", Message.catalogue("issue_must_object_reason"))]) }
        let reason = try Withdrawal.checkReason(body["reason"]?.stringValue)
        _ = try await publish(req, .withdraw(number, reason: reason))
        return jsonResponse(.object(["urgent_action": .string(number.description), "withdrawn": .bool(true)]))
    }

    /// `POST …/urgent-actions/{number}/republish`: a withdrawn action back on every page, as it now is.
    func republishUrgentAction(req: Request) async throws -> Response {
        let number = try uaParameter(req)
        _ = try await publish(req, .republish(number))
        return jsonResponse(.object(["urgent_action": .string(number.description), "withdrawn": .bool(false)]))
    }

    /// `POST …/urgent-actions/{number}/redact` with `{"from": "…", "to": "…"}`: only while withdrawn.
    func redactUrgentAction(req: Request) async throws -> Response {
        let number = try uaParameter(req)
        let body = try jsonBody(req)
        guard case .object = body else { throw ValidationError([.init(path: "$", Message.catalogue("issue_must_object_from"))]) }
        let (from, to) = try Withdrawal.checkRedaction(from: body["from"]?.stringValue, to: body["to"]?.stringValue)
        _ = try await publish(req, .redact(number, from: from, to: to))
        return jsonResponse(.object(["urgent_action": .string(number.description), "redacted": .bool(true)]))
    }

    // MARK: - Targets

    func listTargets(req: Request) async throws -> Response {
        let q = try CatalogueQuery(req.url.query, allowed: [.country, .updatedSince, .limit, .cursor])
        return try await listByID(req, q, .targets, alias: "t") { try await $0.targets(ids: $1).map(\.json) }
    }

    func getTarget(req: Request) async throws -> Response {
        let id = try slugParameter(req, "id", what: "target")
        guard let t = try await Store(db: req.db).target(id: id) else {
            throw Refusal(.notFound, "refusal_there_no_target", ["id": "\(id)"])
        }
        return jsonResponse(t.json)
    }

    func readTarget(_ body: JSONValue) throws -> Target {
        let d = Diagnostics()
        let t = Target.read(body, path: "$", diagnostics: d)
        try d.throwIfAny()
        return t!
    }

    func createTarget(req: Request) async throws -> Response {
        let target = try readTarget(try jsonBody(req))
        _ = try await publish(req, .createTarget(target))
        return jsonResponse(target.json, status: .created, location: Endpoint.apiTarget(target.id).path)
    }

    func replaceTarget(req: Request) async throws -> Response {
        let id = try slugParameter(req, "id", what: "target")
        var body = try jsonBody(req)
        if case .object(var o) = body, o["id"] == nil { o["id"] = .string(id); body = .object(o) }
        let target = try readTarget(body)
        guard target.id == id else {
            throw ValidationError([.init(path: "$.id", Message.catalogue("issue_but_url_names", ["id": "\(target.id)", "url_id": "\(id)"]))])
        }
        let result = try await publish(req, .replaceTarget(target))
        return jsonResponse(target.json, status: result.createdSubject ? .created : .ok)
    }

    // MARK: - Bundles

    func importBundle(req: Request) async throws -> Response {
        // Read a case at a time, not parsed whole, before the publisher takes the write gate.
        let read = try ContentWriter.read(json: try jsonBodyText(req))
        return jsonResponse(try await publish(req, .bundle(read)).summary.json)
    }

    func exportBundle(req: Request) async throws -> Response {
        let caseID = try CatalogueQuery(req.url.query, allowed: [.caseID]).caseID
        let store = Store(db: req.db)
        if let c = caseID {
            guard try await CaseModel.find(c, on: req.db) != nil else { throw Refusal(.notFound, "refusal_there_no_case", ["id": "\(c)"]) }
        }
        // Serialised once per content version, not on every anonymous request.
        let tags: Set<String> = caseID.map { [CacheTag.case($0), CacheTag.listing] } ?? [CacheTag.listing]
        return try await cache.respond(to: req, key: "export|\(caseID ?? "")", contentType: "application/json; charset=utf-8",
                                       cacheControl: "public, max-age=60", fastPath: false) {
            (try await store.export(caseIDs: caseID.map { [$0] }).json.serialized(pretty: true), tags)
        }
    }
}
