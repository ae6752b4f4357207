import Crypto
import Fluent
import SQLKit
import Foundation
import Vapor
import VigilCore

/// `/newsroom/drafts`: writing in the browser. Editors and publishers start items (a case, a
/// target, a new urgent action, an update, an outcome, a translation) or open published content
/// for correction; every save is a revision (`Drafts`); the workflow's steps are buttons for
/// the roles that may take them; revisions compare field by field and restore; publishers give
/// signed preview links to reviewers without an account (`/preview/{token}`).
///
/// Forms work without JavaScript: "Add another", "Remove" and "Preview" are submit buttons that
/// show the form again. Every form carries the CSRF token; the editing form's large body is
/// read only after the newsroom gate let the request through.
struct NewsroomDraftsController: UsesServices {
    let services: VigilServices

    func register(_ r: Router) {
        let gate = [NewsroomGate(roles: [.editor, .publisher])]
        r.on(.newsroomDrafts, use: list)
        r.on(.createDraft, use: create)
        r.on(.editPublished, use: editPublished)
        r.on(.newsroomDraft, use: show)
        r.on(.saveDraft, middleware: gate, maxBody: EditForm.maxBodyBytes, use: save)
        r.on(.draftStep, use: step)
        r.on(.draftRestore, use: restore)
        r.on(.draftCompare, use: compare)
        r.on(.createPreviewLink, use: createPreviewLink)
        r.on(.revokePreviewLink, use: revokePreviewLink)
        r.on(.preview, use: preview)
    }

    var pages: PrivatePage { PrivatePage(views: views, strings: strings, auth: auth) }
    var clock: ActionClock { ActionClock.current }

    static func actor(_ me: CurrentSession) -> DraftActor { .account(me.supporter.id!, roles: me.supporter.roles) }

    // MARK: The list, and starting items

    func list(req: Request) async throws -> Response {
        try await NewsroomAccess.require(req)
        return try await renderList(req)
    }

    func renderList(_ req: Request, status: HTTPStatus = .ok, errors: [String] = []) async throws -> Response {
        let state = req.endpoint.query["state"].flatMap(DraftState.init(rawValue:))
        var q = DraftItemModel.query(on: req.db)
        if let state { q = q.filter(\.$state == state.rawValue) } else { q = q.filter(\.$state != DraftState.published.rawValue) }
        let limit = 100
        // Pages of 100, newest change first; a page number past the end shows an empty page.
        let pageNumber = req.endpoint.query["page"].flatMap { Int($0) }.map { min(max($0, 1), 100_000) } ?? 1
        let rows = try await q.sort(\.$updatedAt, .descending).sort(\.$id).range((pageNumber - 1) * limit..<(pageNumber * limit + 1)).all()
        func pageHref(_ n: Int) -> String {
            var query: [String: String] = [:]
            if let state { query["state"] = state.rawValue }
            if n > 1 { query["page"] = String(n) }
            return Endpoint(.newsroomDrafts, query: query).path
        }
        let pagination = pageNumber > 1 || rows.count > limit
            ? ListPage.Pagination(label: strings.format("results_page", ["page": String(pageNumber)]),
                                  prev: pageNumber > 1 ? pageHref(pageNumber - 1) : nil, next: rows.count > limit ? pageHref(pageNumber + 1) : nil)
            : nil
        // Suggestions for the case field (any case's id can be typed): the most recently changed.
        let cases = try await CaseModel.query(on: req.db).sort(\.$updatedAt, .descending).limit(500).all()
        let page = NewsroomDraftsPage(
            items: rows.prefix(limit).map { item in
                NewsroomDraftsPage.Item(href: Self.href(item), title: item.title, kind: kindLabel(item), state: stateLabel(item.state),
                                        stateKey: item.state, updated: Moment(item.updatedAt, zone: req.newsroomZone), number: item.uaNumber.map { "UA \($0)" } ?? "")
            },
            states: DraftState.allCases.map { .init(value: $0.rawValue, label: stateLabel($0.rawValue), selected: $0 == state) },
            pagination: pagination,
            createAction: Endpoint(.createDraft).path, openAction: Endpoint(.editPublished).path,
            cases: cases.map { .init(value: $0.id!, label: $0.title, selected: false) }, errors: errors)
        return try pages.render(req, "newsroom-drafts", title: strings["drafts_title"], status: status, content: page)
    }

    struct CreateForm: Content {
        var csrf: String?
        /// `case`, `target`, `urgent_action`, `update`, `outcome`, `translation`.
        var kind: String?
        var `case`: String?
        var number: String?
        /// The urgent action of an update or outcome (`12/26` or `12-26`).
        var ua: String?
        /// The document a translation translates.
        var original: String?
        var language: String?
    }

    func create(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .editor, .publisher)
        let form = try req.content.decode(CreateForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let actor = Self.actor(me)
        let today = clock.today(services.now())
        let language = (form.language ?? "en").trimmingCharacters(in: .whitespaces)
        if LanguageTag.problem(language) != nil {
            return try await renderList(req, status: .unprocessableEntity, errors: [strings["draft_bad_language"]])
        }
        let item: DraftItemModel
        do {
            switch form.kind ?? "" {
            case "case":
                item = try await drafts.create(.kase, content: .object(["status": .string("open"), "urgent_actions": .array([])]), by: actor, on: req.db)
            case "target":
                item = try await drafts.create(.target, content: .object([:]), by: actor, on: req.db)
            case "urgent_action":
                guard let caseID = form.case, Slug.issue(caseID) == nil, try await CaseModel.find(caseID, on: req.db) != nil else {
                    return try await renderList(req, status: .unprocessableEntity, errors: [strings["draft_choose_case"]])
                }
                var typed: UANumber?
                if let raw = form.number?.trimmingCharacters(in: .whitespaces), !raw.isEmpty {
                    guard let n = UANumber(raw) else {
                        return try await renderList(req, status: .unprocessableEntity, errors: [strings["newsroom_ua_bad_number"]])
                    }
                    typed = n
                }
                let content: JSONValue = .object([
                    "id": .string("ua-\(NewUrgentAction.placeholder)-0-\(language.lowercased())"), "sequence": .number(0), "kind": .string("initial"),
                    "language": .string(language), "published": .string(today), "title": .string(""), "body": .string(""),
                ])
                item = try await drafts.create(.document, content: content, caseID: caseID, number: typed, numberTyped: typed != nil, by: actor, on: req.db)
            case "update", "outcome":
                let raw = (form.ua ?? "").trimmingCharacters(in: .whitespaces)
                guard let n = UANumber(raw) ?? UANumber(slug: raw), let ua = try await UrgentActionModel.find(n.slug, on: req.db) else {
                    return try await renderList(req, status: .unprocessableEntity, errors: [strings["newsroom_ua_bad_number"]])
                }
                let docs = try await DocumentModel.query(on: req.db).filter(\.$urgentActionID == ua.id!).all()
                let sequence = (docs.map(\.sequence).max() ?? 0) + 1
                var o: [String: JSONValue] = [
                    "id": .string("ua-\(n.slug)-\(sequence)-\(language.lowercased())"), "sequence": .number(Double(sequence)),
                    "kind": .string(form.kind!), "language": .string(language), "published": .string(today), "title": .string(""), "body": .string(""),
                ]
                // An update usually asks again: it starts from the latest take-action block.
                if let last = try await Store(db: req.db, includeWithdrawn: true).documents(ids: docs.filter { $0.translationOf == nil }
                    .sorted { $0.sequence > $1.sequence }.prefix(1).compactMap(\.id)).first?.document,
                   form.kind == "update", let ta = last.takeAction {
                    var t = ta; t.deadline = nil
                    o["take_action"] = t.json
                }
                item = try await drafts.create(.document, content: .object(o), caseID: ua.caseID, number: n, by: actor, on: req.db)
            case "translation":
                let original = form.original ?? ""
                guard Slug.issue(original) == nil, let stored = try await Drafts.stored(.document, original, on: req.db), let n = stored.number,
                      case .object(var o) = stored.value, o["translation_of"] == nil || o["translation_of"] == .null else {
                    return try await renderList(req, status: .unprocessableEntity, errors: [strings["draft_choose_original"]])
                }
                if language == o["language"]?.stringValue {
                    return try await renderList(req, status: .unprocessableEntity, errors: [strings["draft_bad_language"]])
                }
                let seq: Int = { if case .number(let n)? = o["sequence"] { return Int(n) } else { return 0 } }()
                o["id"] = .string("ua-\(n.slug)-\(seq)-\(language.lowercased())")
                o["language"] = .string(language)
                o["translation_of"] = .string(original)
                o["corrections"] = nil
                item = try await drafts.create(.document, content: .object(o), caseID: stored.caseID, number: n,
                                               original: (original, Drafts.hash(try Drafts.serialize(stored.value))), by: actor, on: req.db)
            default:
                return try await renderList(req, status: .unprocessableEntity, errors: [strings["draft_choose_kind"]])
            }
        } catch let refusal as DraftRefusal {
            return try await renderList(req, status: refusal.status, errors: [message(refusal)])
        }
        return req.redirect(to: Self.href(item), redirectType: .normal)
    }

    struct OpenForm: Content {
        var csrf: String?
        var kind: String?
        var subject: String?
    }

    /// Starts (or resumes) editing published content: a case, a target or a document.
    func editPublished(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .editor, .publisher)
        let form = try req.content.decode(OpenForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        guard let kind = form.kind.flatMap(DraftKind.init(rawValue:)), let subject = form.subject, !subject.isEmpty, subject.count <= 200, !subject.hasControlCharacter,
              let item = try await drafts.openPublished(kind, subject: subject, by: Self.actor(me), on: req.db) else {
            throw Abort(.notFound, reason: strings["draft_nothing_to_open"])
        }
        return req.redirect(to: Self.href(item), redirectType: .normal)
    }

    // MARK: One item

    func item(_ req: Request) async throws -> DraftItemModel {
        guard let raw = req.endpoint[.uuid], let id = UUID(uuidString: raw), let item = try await Drafts.item(id, on: req.db) else {
            throw Abort(.notFound, reason: strings["draft_not_found"])
        }
        return item
    }

    func show(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req)
        let item = try await item(req)
        return try await render(req, me, item)
    }

    /// The schema of an item's form, without the fields that say which document it is (and a
    /// published case's or target's id): those are shown, and kept from the revision.
    static func schema(_ item: DraftItemModel, kind: String? = nil) -> (EditForm.Schema, locked: [String]) {
        let locked = Drafts.lockedKeys(item)
        switch DraftKind(rawValue: item.kind) ?? .document {
        case .kase:
            return (EditForm.Schema(name: EditForm.case.name, fields: EditForm.case.fields.filter { !locked.contains($0.key) }), locked)
        case .target:
            return (EditForm.Schema(name: EditForm.target.name, fields: EditForm.target.fields.filter { !locked.contains($0.key) }), locked)
        case .document:
            // A result and "no further action" belong to an outcome only.
            let outcomeOnly = kind == DocumentKind.outcome.rawValue ? [] : ["outcome", "no_further_action"]
            return (EditForm.Schema(name: EditForm.document.name,
                                    fields: EditForm.document.fields.filter { !locked.contains($0.key) && !outcomeOnly.contains($0.key) }), locked)
        }
    }

    struct Shown {
        var content: JSONValue?
        var issues: [ValidationIssue] = []
        var errors: [String] = []
        var notice: String?
        var stale: StaleSave?
        var comment = ""
        var base: Int?
        var preview = false
        var focus: String?
        var newPreviewURL: String?
    }

    func render(_ req: Request, _ me: CurrentSession, _ item: DraftItemModel, status: HTTPStatus = .ok, shown: Shown = Shown()) async throws -> Response {
        let db = req.db
        let revisions = try await Drafts.revisions(item, on: db)
        guard let current = revisions.first(where: { $0.number == item.currentRevision }) else { throw Abort(.notFound) }
        let content = shown.content ?? Drafts.parse(current.content)
        // A draft just started is all blanks: its form is not covered in "is required" until the
        // editor saves it or a step is refused (then the problems are what they need to read).
        let untouched = shown.content == nil && shown.errors.isEmpty && item.currentRevision == 1 && item.publishedRevision == nil
        let issues = untouched ? [] : shown.content == nil ? Drafts.problems(item, content) : shown.issues
        let (schema, locked) = Self.schema(item, kind: content.objectValue?["kind"]?.stringValue)
        let events = try await Drafts.events(item, on: db)
        let others = try await Drafts.present(item, account: me.supporter.id!, at: services.now(), on: db)
        let people = Set(revisions.compactMap(\.authorID) + events.compactMap(\.actorID) + others)
        let names = Dictionary(uniqueKeysWithValues: try await SupporterModel.query(on: db).filter(\.$id ~~ people.sorted { $0.uuidString < $1.uuidString }).all()
            .map { ($0.id!, $0.displayName.isEmpty ? strings["draft_someone"] : $0.displayName) })
        func name(_ kind: String, _ id: UUID?) -> String {
            if let id { return names[id] ?? strings["draft_someone"] }
            return kind == "system" ? strings["draft_vigil"] : strings["draft_command_line"]
        }
        let publisher = me.supporter.roles.contains(.publisher)
        let zone = req.newsroomZone
        let state = DraftState(rawValue: item.state) ?? .draft
        var facts: [Fact] = [Fact(label: strings["draft_fact_revision"], value: String(item.currentRevision))]
        if let n = item.uaNumber { facts.append(Fact(label: strings["draft_fact_number"], value: "UA \(n)")) }
        else if item.kind == DraftKind.document.rawValue { facts.append(Fact(label: strings["draft_fact_number"], value: strings["draft_number_later"])) }
        if let c = item.caseID { facts.append(Fact(label: strings["draft_fact_case"], value: c)) }
        if let p = item.publishedRevision { facts.append(Fact(label: strings["draft_fact_published_revision"], value: String(p))) }
        if let late = item.lateSeconds { facts.append(Fact(label: strings["draft_fact_late"], value: Self.duration(late, strings))) }
        if let e = item.lastError { facts.append(Fact(label: strings["draft_fact_missed"], value: e)) }
        let lockedFacts = locked.compactMap { key -> Fact? in
            guard let v = content.objectValue?[key], v != .null else { return nil }
            let text: String
            switch v {
            // Its publication date is set when it goes out.
            case .string where key == "published" && item.publishedRevision == nil: text = strings["draft_published_later"]
            // The number, once given at scheduling, in the id it will have.
            case .string(let s) where item.uaNumber != nil && s.contains(NewUrgentAction.placeholder):
                text = UANumber(item.uaNumber!).map { s.replacingOccurrences(of: NewUrgentAction.placeholder, with: $0.slug) } ?? s
            // A document's kind and language, in words.
            case .string(let s) where key == "kind": text = strings.table["kind_\(s)"] ?? s
            case .string(let s) where key == "language": text = Format.languageName(s)
            case .string(let s): text = s
            case .number(let n): text = String(Int(n))
            case .array(let a): text = a.compactMap { $0.objectValue.map { "\($0["date"]?.stringValue ?? ""): \($0["note"]?.stringValue ?? "")" } }.joined(separator: "\n")
            default: text = v.serialized(pretty: false)
            }
            return Fact(label: strings["form_locked_\(key)"], value: text)
        }
        var steps: [NewsroomDraftPage.StepButton] = []
        func add(_ s: Drafts.Step, comment: Bool = false, schedule: Bool = false, danger: Bool = false) {
            steps.append(.init(step: s.rawValue, label: strings["draft_step_\(s.rawValue)"], help: strings["draft_step_\(s.rawValue)_help"],
                               commentRequired: comment, schedule: schedule, danger: danger))
        }
        let correcting = item.publishedRevision != nil && item.kind == DraftKind.document.rawValue
        switch state {
        case .draft: add(.submit); if publisher { add(.publishWithoutReview, comment: true, danger: true) }
        case .inReview:
            if publisher { add(.approve); add(.requestChanges, comment: true); add(.publishWithoutReview, comment: true, danger: true) }
        case .approved:
            if publisher { add(.publish, comment: correcting); add(.schedule, schedule: true); add(.requestChanges, comment: true) }
        case .scheduled: if publisher { add(.unschedule) }
        case .published: break
        }
        if item.emergency && publisher { add(.markReviewed) }
        let links = publisher ? try await PreviewLinkModel.query(on: db).filter(\.$itemID == item.id!).sort(\.$createdAt, .descending).limit(50).all() : []
        // Each link's views, counted in one query.
        var seen: [UUID: (count: Int, last: Date?)] = [:]
        if !links.isEmpty {
            let sql = db as! any SQLDatabase
            for row in try await sql.select().column("link_id").column(SQLFunction("COUNT", args: SQLLiteral.all), as: "n")
                .column(SQLFunction("MAX", args: SQLColumn("at")), as: "last").from(PreviewViewModel.schema)
                .where(SQLColumn("link_id"), .in, SQLBind.group(links.compactMap(\.id))).groupBy("link_id").all() {
                seen[try row.decode(column: "link_id", as: UUID.self)] = (try row.decode(column: "n", as: Int.self),
                                                                          try row.decode(column: "last", as: Date?.self))
            }
        }
        var linkRows: [NewsroomDraftPage.PreviewLink] = []
        for l in links {
            let views = seen[l.id!]
            linkRows.append(.init(label: l.label, expires: Moment(l.expiresAt, zone: zone), views: String(views?.count ?? 0),
                                  lastView: views?.last.map { Moment($0, zone: zone) },
                                  active: l.revokedAt == nil && l.expiresAt > services.now(),
                                  revoke: Endpoint(.revokePreviewLink, [item.id!.uuidString.lowercased(), l.id!.uuidString.lowercased()]).path))
        }
        let outdated = try await Self.outdated(item, on: db)
        let id = item.id!.uuidString.lowercased()
        let page = NewsroomDraftPage(
            title: item.title, kind: kindLabel(item), state: stateLabel(item.state), stateKey: item.state, emergency: item.emergency,
            facts: facts, errors: shown.errors, notice: shown.notice,
            others: strings.list(others.map { names[$0] ?? strings["draft_someone"] }),
            stale: shown.stale?.changes.map(ChangeRow.init) ?? [],
            staleText: shown.stale.map { strings.format("draft_stale_text", ["base": String($0.base), "current": String($0.current)]) } ?? "",
            saveAction: Endpoint(.saveDraft, [id]).path, stepAction: Endpoint(.draftStep, [id]).path,
            restoreAction: Endpoint(.draftRestore, [id]).path, previewLinkAction: Endpoint(.createPreviewLink, [id]).path,
            baseRevision: String(shown.base ?? item.currentRevision), comment: shown.comment,
            form: EditForm.render(schema, value: content, issues: issues, strings: strings, preview: shown.preview, focus: shown.focus),
            locked: lockedFacts, steps: steps, zone: zone.identifier,
            scheduledAt: item.scheduledAt.map { Self.local($0, zone: item.scheduleZone) } ?? "",
            revisions: revisions.map { r in
                .init(number: String(r.number), author: name(r.authorKind, r.authorID), at: Moment(r.createdAt, zone: zone), comment: RevisionComment.shown(r.comment, strings),
                      current: r.number == item.currentRevision, published: r.number == item.publishedRevision,
                      compareHref: r.number > 1 ? Endpoint(.draftCompare, [id], query: ["a": String(r.number - 1), "b": String(r.number)]).path : "")
            },
            events: events.map { e in
                .init(at: Moment(e.at, zone: zone), actor: name(e.actorKind, e.actorID), action: strings["draft_action_\(e.action)"],
                      from: stateLabel(e.fromState), to: stateLabel(e.toState), revision: String(e.revision), comment: e.comment ?? "")
            },
            publisher: publisher, previewLinks: linkRows, newPreviewURL: shown.newPreviewURL,
            outdated: outdated.outdated, outdatedHref: outdated.href ?? "", publicHref: try await publicHref(item, on: db))
        return try pages.render(req, "newsroom-draft", title: item.title, status: status, content: page)
    }

    /// Whether a translation's original changed since the translation was made (or last
    /// published), and where to see the changes when the original's history has them.
    static func outdated(_ item: DraftItemModel, on db: any Database) async throws -> (outdated: Bool, href: String?) {
        guard let originalID = item.originalID, let madeFrom = item.originalHash,
              let stored = try await Drafts.stored(.document, originalID, on: db) else { return (false, nil) }
        let now = Drafts.hash(try Drafts.serialize(stored.value))
        guard now != madeFrom else { return (false, nil) }
        guard let original = try await DraftItemModel.query(on: db).filter(\.$kind == DraftKind.document.rawValue)
            .filter(\.$subject == originalID).first(),
              let then = try await DraftRevisionModel.query(on: db).filter(\.$itemID == original.id!).filter(\.$contentHash == madeFrom).first(),
              let live = try await DraftRevisionModel.query(on: db).filter(\.$itemID == original.id!).filter(\.$contentHash == now)
                .sort(\.$number, .descending).first() else { return (true, nil) }
        return (true, Endpoint(.draftCompare, [original.id!.uuidString.lowercased()], query: ["a": String(then.number), "b": String(live.number)]).path)
    }

    /// Of many translation items, the published ids of those whose original changed since they
    /// were made: the originals read in one query, not one item at a time.
    static func outdated(_ items: [DraftItemModel], on db: any Database) async throws -> Set<String> {
        let made = items.compactMap { i -> (subject: String, original: String, hash: String)? in
            guard let s = i.subject, let o = i.originalID, let h = i.originalHash else { return nil }
            return (s, o, h)
        }
        guard !made.isEmpty else { return [] }
        var now: [String: String] = [:]
        for d in try await Store(db: db, includeWithdrawn: true).documents(ids: Array(Set(made.map(\.original)))) {
            now[d.document.id] = Drafts.hash(try Drafts.serialize(d.document.json))
        }
        return Set(made.filter { m in now[m.original].map { $0 != m.hash } ?? false }.map(\.subject))
    }

    func publicHref(_ item: DraftItemModel, on db: any Database) async throws -> String? {
        guard item.publishedRevision != nil, let subject = item.subject else { return nil }
        switch DraftKind(rawValue: item.kind) ?? .document {
        case .kase: return Endpoint(.kase, [subject]).path
        case .target: return nil
        case .document:
            guard let d = try await DocumentModel.find(subject, on: db), let n = UANumber(slug: d.urgentActionID),
                  let kind = DocumentKind(rawValue: d.kind) else { return nil }
            let part = Endpoint.part(kind: kind, sequence: d.sequence)
            return d.translationOf == nil ? Endpoint(.document, [n.slug, part]).path : Endpoint(.translation, [n.slug, part, d.language]).path
        }
    }

    // MARK: Saving

    func save(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .editor, .publisher)
        let item = try await item(req)
        let pairs = EditForm.formPairs(urlencoded: req.body.string ?? "")
        let single = Dictionary(pairs.filter { ["csrf", "base_revision", "comment", "do"].contains($0.name) }.reversed(), uniquingKeysWith: { $1 })
        try auth.checkCSRF(req, token: single["csrf"])
        guard let base = Int(single["base_revision"] ?? ""), base >= 1 else { throw Abort(.badRequest, reason: strings["draft_bad_form"]) }
        let baseContent = try await Drafts.revision(item, base, on: req.db).map { Drafts.parse($0.content) }
        let (schema, _) = Self.schema(item, kind: baseContent?.objectValue?["kind"]?.stringValue)
        let reading = EditForm.read(schema, form: pairs)
        let comment = String((single["comment"] ?? "").prefix(Drafts.maxComment * 2))
        // The locked fields come from the revision the editor started from (Drafts.save does the same).
        let value = Drafts.keepingLocked(item, reading.value, base: baseContent)
        var shown = Shown(content: value, issues: reading.issues + Drafts.problems(item, value), comment: comment, base: base)
        // A button that only changes the form (add, remove, preview) shows it again, unsaved.
        if reading.action != .none || single["do"] == "preview" {
            shown.preview = single["do"] == "preview"
            shown.focus = reading.focus
            shown.notice = strings["draft_not_saved_yet"]
            return try await render(req, me, item, shown: shown)
        }
        if !reading.issues.isEmpty {
            shown.errors = [strings["draft_form_problems"]]
            return try await render(req, me, item, status: .unprocessableEntity, shown: shown)
        }
        do {
            let saved = try await drafts.save(item.id!, content: value, base: base, by: Self.actor(me), comment: comment, on: req.db)
            var after = Shown()
            after.notice = saved.currentRevision == base ? strings["draft_saved_unchanged"]
                : strings.format("draft_saved", ["revision": String(saved.currentRevision)])
            return try await render(req, me, saved, shown: after)
        } catch let stale as StaleSave {
            shown.stale = stale
            shown.errors = [strings["draft_stale"]]
            return try await render(req, me, try await Drafts.item(item.id!, on: req.db) ?? item, status: .conflict, shown: shown)
        } catch let refusal as DraftRefusal {
            shown.errors = [message(refusal)]
            return try await render(req, me, item, status: refusal.status, shown: shown)
        }
    }

    // MARK: Steps

    struct StepForm: Content {
        var csrf: String?
        var step: String?
        var revision: Int?
        var comment: String?
        /// `datetime-local`: `2026-12-03T09:00`, in `zone`.
        var at: String?
        var zone: String?
    }

    func step(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .editor, .publisher)
        let form = try req.content.decode(StepForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let item = try await item(req)
        guard let step = form.step.flatMap(Drafts.Step.init(rawValue:)), let revision = form.revision else {
            throw Abort(.badRequest, reason: strings["draft_bad_form"])
        }
        var at: Date?
        var zone: String?
        if step == .schedule {
            let zoneName = (form.zone ?? "").isEmpty ? req.newsroomZone.identifier : form.zone!
            guard let tz = ActionClock.zone(named: zoneName) else {
                return try await render(req, me, item, status: .unprocessableEntity, shown: Shown(errors: [strings["draft_bad_zone"]]))
            }
            guard let parsed = Self.parseLocal(form.at ?? "", zone: tz) else {
                return try await render(req, me, item, status: .unprocessableEntity, shown: Shown(errors: [strings["draft_bad_time"]]))
            }
            at = parsed; zone = tz.identifier
        }
        do {
            let moved = try await drafts.step(step, item.id!, revision: revision, by: Self.actor(me), comment: form.comment, at: at, zone: zone, on: req.db)
            return try await render(req, me, moved, shown: Shown(notice: strings["draft_done_\(step.rawValue)"]))
        } catch let stale as StaleSave {
            return try await render(req, me, item, status: .conflict, shown: Shown(errors: [strings["draft_stale_step"]], stale: stale))
        } catch let refusal as DraftRefusal {
            return try await render(req, me, try await Drafts.item(item.id!, on: req.db) ?? item, status: refusal.status,
                                    shown: Shown(errors: [message(refusal)], comment: String((form.comment ?? "").prefix(Drafts.maxComment))))
        }
    }

    struct RestoreForm: Content {
        var csrf: String?
        var revision: Int?
        var base: Int?
    }

    func restore(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .editor, .publisher)
        let form = try req.content.decode(RestoreForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let item = try await item(req)
        guard let revision = form.revision, let base = form.base else { throw Abort(.badRequest, reason: strings["draft_bad_form"]) }
        do {
            let saved = try await drafts.restore(item.id!, revision: revision, base: base, by: Self.actor(me), on: req.db)
            return try await render(req, me, saved, shown: Shown(notice: strings.format("draft_restored", ["revision": String(revision)])))
        } catch let stale as StaleSave {
            return try await render(req, me, item, status: .conflict, shown: Shown(errors: [strings["draft_stale"]], stale: stale))
        } catch let refusal as DraftRefusal {
            return try await render(req, me, item, status: refusal.status, shown: Shown(errors: [message(refusal)]))
        }
    }

    // MARK: Comparing

    func compare(req: Request) async throws -> Response {
        try await NewsroomAccess.require(req)
        let item = try await item(req)
        let q = req.endpoint.query
        let b = Int(q["b"] ?? "") ?? item.currentRevision
        let a = Int(q["a"] ?? "") ?? max(1, b - 1)
        let revisions = try await Drafts.revisions(item, on: req.db)
        guard let ra = revisions.first(where: { $0.number == a }), let rb = revisions.first(where: { $0.number == b }) else {
            throw Abort(.notFound, reason: strings["draft_revision_not_found"])
        }
        let names = Dictionary(uniqueKeysWithValues: try await SupporterModel.query(on: req.db)
            .filter(\.$id ~~ Set(revisions.compactMap(\.authorID)).sorted { $0.uuidString < $1.uuidString }).all().map { ($0.id!, $0.displayName) })
        func label(_ r: DraftRevisionModel) -> String {
            strings.format("draft_revision_by", ["revision": String(r.number), "author": r.authorID.flatMap { names[$0] } ?? strings["draft_vigil"],
                                                  "at": Moment(r.createdAt, zone: req.newsroomZone).text])
        }
        let id = item.id!.uuidString.lowercased()
        let page = NewsroomComparePage(
            title: item.title, backHref: Endpoint(.newsroomDraft, [id]).path, action: Endpoint(.draftCompare, [id]).path,
            a: revisions.map { .init(value: String($0.number), label: String($0.number), selected: $0.number == a) },
            b: revisions.map { .init(value: String($0.number), label: String($0.number), selected: $0.number == b) },
            aLabel: label(ra), bLabel: label(rb),
            changes: Drafts.compare(Drafts.parse(ra.content), Drafts.parse(rb.content)).map(ChangeRow.init))
        return try pages.render(req, "newsroom-compare", title: strings["draft_compare_title"], content: page)
    }

    // MARK: Preview links

    struct LinkForm: Content {
        var csrf: String?
        var label: String?
        var days: Int?
    }

    /// Longest a preview link lives.
    static let maxLinkDays = 30

    func createPreviewLink(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .publisher)
        let form = try req.content.decode(LinkForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let item = try await item(req)
        let label = (form.label ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let days = form.days ?? 3
        // One line of text: a NUL or another control character is refused, not stored (SQLite
        // gave such a label back cut at the NUL).
        let oneLine = !label.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
        guard !label.isEmpty, label.count <= 200, oneLine, (1...Self.maxLinkDays).contains(days) else {
            return try await render(req, me, item, status: .unprocessableEntity, shown: Shown(errors: [strings["draft_link_bad"]]))
        }
        let token = Auth.randomToken()
        let time = services.now()
        let link = PreviewLinkModel()
        link.itemID = item.id!
        link.tokenHash = Auth.hash(token)
        link.label = label
        link.createdBy = me.supporter.id
        link.createdAt = time
        link.expiresAt = time.addingTimeInterval(Double(days) * 86400)
        try await req.db.writeTransaction { db in
            try await link.create(on: db)
            try await Audit.record("preview_link.create", actor: .account(me.supporter.id!), subject: Drafts.auditSubject(item),
                                   detail: ["link": link.id!.uuidString.lowercased(), "days": String(days)], on: db, now: time)
        }
        return try await render(req, me, item, shown: Shown(notice: strings["draft_link_made"],
                                                            newPreviewURL: services.url(Endpoint(.preview, [token]))))
    }

    func revokePreviewLink(req: Request) async throws -> Response {
        let me = try await NewsroomAccess.require(req, .publisher)
        let form = try req.content.decode(LinkForm.self)
        try auth.checkCSRF(req, token: form.csrf)
        let item = try await item(req)
        guard let raw = req.endpoint[.id], let linkID = UUID(uuidString: raw),
              let link = try await PreviewLinkModel.query(on: req.db).filter(\.$id == linkID).filter(\.$itemID == item.id!).first() else {
            throw Abort(.notFound, reason: strings["draft_link_not_found"])
        }
        if link.revokedAt == nil {
            let time = services.now()
            try await req.db.writeTransaction { db in
                link.revokedAt = time
                try await link.update(on: db)
                try await Audit.record("preview_link.revoke", actor: .account(me.supporter.id!), subject: Drafts.auditSubject(item),
                                       detail: ["link": linkID.uuidString.lowercased()], on: db, now: time)
            }
        }
        return try await render(req, me, item, shown: Shown(notice: strings["draft_link_revoked"]))
    }

    /// The reviewer's view: the item's current revision, read-only, never indexed or cached,
    /// and only while the link is neither expired nor revoked. Every view is logged (when, and
    /// which revision: nothing about the viewer).
    func preview(req: Request) async throws -> Response {
        guard let token = req.endpoint[.id], token.count == 43,
              let link = try await PreviewLinkModel.query(on: req.db).filter(\.$tokenHash == Auth.hash(token)).first(),
              link.revokedAt == nil, link.expiresAt > services.now(),
              let item = try await Drafts.item(link.itemID, on: req.db),
              let rev = try await Drafts.revision(item, item.currentRevision, on: req.db) else {
            let response = try pages.message(req, title: strings["preview_gone_title"], text: strings["preview_gone_text"], status: .notFound)
            response.headers.replaceOrAdd(name: "X-Robots-Tag", value: "noindex, nofollow")
            return response
        }
        let time = services.now()
        try await req.db.writeTransaction { db in
            let view = PreviewViewModel()
            view.linkID = link.id!; view.at = time; view.revision = rev.number
            try await view.create(on: db)
        }
        let content = Drafts.parse(rev.content).objectValue ?? [:]
        var sections: [DraftPreviewPage.Section] = []
        func text(_ key: String, _ heading: String, markdown: Bool = false) {
            guard let s = content[key]?.stringValue, !s.isEmpty else { return }
            sections.append(.init(heading: strings[heading], html: markdown ? HTML.markdown(s) : HTML.text(s)))
        }
        text("summary", "form_doc_summary")
        text("body", "form_doc_body", markdown: true)
        if case .object(let ta)? = content["take_action"] {
            if let d = ta["deadline"]?.stringValue { sections.append(.init(heading: strings["form_ta_deadline"], html: HTML.text(d))) }
            if let l = ta["letter"]?.stringValue { sections.append(.init(heading: strings["form_ta_letter"], html: HTML.markdown(l))) }
        }
        text("additional_information", "form_doc_additional", markdown: true)
        if case .array(let people)? = content["people"] {
            let names = people.compactMap { $0.objectValue?["name"]?.stringValue }
            if !names.isEmpty { sections.append(.init(heading: strings["form_people"], html: HTML.text(strings.list(names)))) }
        }
        if case .array(let events)? = content["timeline"] {
            let lines = events.compactMap { e -> String? in
                guard let o = e.objectValue else { return nil }
                return "\(o["date"]?.stringValue ?? "") — \(o["summary"]?.stringValue ?? "")"
            }
            if !lines.isEmpty { sections.append(.init(heading: strings["form_timeline"], html: HTML.markdown(lines.map { "- " + $0 }.joined(separator: "\n")))) }
        }
        if item.kind == DraftKind.target.rawValue {
            for key in ["name", "organisation", "email", "channel_notes"] { text(key, "form_target_\(key)") }
        }
        let page = DraftPreviewPage(title: item.title, kind: kindLabel(item), language: content["language"]?.stringValue ?? "en",
                                    revision: String(rev.number), expires: Moment(link.expiresAt, zone: ActionClock.current.timeZone), sections: sections)
        let response = try pages.render(req, "draft-preview", title: item.title, content: page)
        response.headers.replaceOrAdd(name: "X-Robots-Tag", value: "noindex, nofollow")
        response.headers.replaceOrAdd(name: "Referrer-Policy", value: "no-referrer")
        return response
    }

    // MARK: Words

    static func href(_ item: DraftItemModel) -> String { Endpoint(.newsroomDraft, [item.id!.uuidString.lowercased()]).path }

    func kindLabel(_ item: DraftItemModel) -> String { strings["draft_kind_\(item.kind)"] }

    func stateLabel(_ state: String) -> String { strings["draft_state_\(state)"] }

    func message(_ refusal: DraftRefusal) -> String {
        var values = refusal.values
        if let state = values["state"] { values["state"] = stateLabel(state) }
        return strings.format(refusal.reason.rawValue, values)
    }

    /// "3 hours 5 minutes".
    static func duration(_ seconds: Int, _ t: Strings) -> String {
        let h = seconds / 3600, m = (seconds % 3600) / 60
        return h > 0 ? t.format("draft_late_hours", ["hours": String(h), "minutes": String(m)]) : t.format("draft_late_minutes", ["minutes": String(max(m, 1))])
    }

    /// A time shown in the zone it was given in, the zone named: "2026-12-03 09:00 (Europe/London)".
    static func local(_ date: Date, zone: String?) -> String {
        let tz = zone.flatMap(ActionClock.zone(named:)) ?? ActionClock.current.timeZone
        return "\(ClockText.minute(date, zone: tz)) (\(tz.identifier))"
    }

    /// `2026-12-03T09:00` in `zone` (what `<input type="datetime-local">` sends).
    static func parseLocal(_ text: String, zone: TimeZone) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        for format in ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm"] {
            f.dateFormat = format
            if text.count <= 19, let d = f.date(from: text) { return d }
        }
        return nil
    }
}

/// The newsroom's gate as a middleware, for routes whose large body must not be read for a
/// caller who may not post it.
struct NewsroomGate: AsyncMiddleware {
    let roles: Set<NewsroomRole>
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        do {
            _ = try NewsroomAccess.check(req, roles)
        } catch let refusal as RenderedRefusal {
            return refusal.response
        }
        return try await next.respond(to: req)
    }
}
