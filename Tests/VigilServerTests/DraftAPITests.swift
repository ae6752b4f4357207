import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// `/api/v1/drafts`: the newsroom's workflow for API tokens, with the browser's rules and audit trail.
@Suite struct DraftAPITests {
    static let target = #"{"id":"draft-target","title":"Prosecutor General","address":["Moscow"],"salutation":{},"languages":["ru"]}"#

    /// A command-line token (`vigil token create --role publisher --scope …`).
    static func token(_ app: Application, scope: String = "write") async throws -> (headers: HTTPHeaders, id: UUID) {
        let (token, id) = try await APIToken.create(role: "publisher", scope: scope, label: "t", on: app.db)
        return (["Authorization": "Bearer \(token)"], id)
    }

    /// A newsroom account with `roles` and a second factor, and a token it made.
    static func account(_ app: Application, _ email: String, roles: Set<NewsroomRole> = [.publisher]) async throws -> (SupporterModel, HTTPHeaders) {
        let s = app.vigilServices
        _ = try await NewsroomAccounts.invite(email: email, name: "P", roles: roles, by: .commandLine,
                                              mailer: Mailer(catalogue: s.catalogue, mailFrom: s.configuration.mailFrom),
                                              url: { s.url($0) }, log: nil, on: app.db)
        let account = try #require(try await SupporterModel.query(on: app.db).filter(\.$email == email).first())
        account.totpSecret = "sealed-for-the-test"
        account.totpEnrolledAt = Date()
        try await account.update(on: app.db)
        let (token, _) = try await APIToken.create(role: "publisher", scope: "write", label: "m", createdBy: account.id, on: app.db)
        return (account, ["Authorization": "Bearer \(token)"])
    }

    static func step(_ app: Application, _ id: String, _ step: String, revision: Int, headers: HTTPHeaders,
                     extra: String = "") async throws -> TestingHTTPResponse {
        try await send(app, .POST, "/api/v1/drafts/\(id)/steps", headers: headers,
                       json: #"{"step":"\#(step)","revision":\#(revision)\#(extra)}"#)
    }

    static func counts(_ app: Application) async throws -> [Int] {
        [try await DraftItemModel.query(on: app.db).count(), try await DraftRevisionModel.query(on: app.db).count(),
         try await DraftEventModel.query(on: app.db).count(), try await AuditEntryModel.query(on: app.db).count()]
    }

    /// The full hostile-input run on PostgreSQL: a NUL in a draft's content (its id reaches a
    /// lookup of the item's subject) or in `translation_of` (a lookup of the original) answered
    /// 500, since PostgreSQL refuses a NUL in text. Refused with 422 now, nothing written.
    @Test(arguments: TestStorage.available) func controlCharactersInADraftAreRefused(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let (a, _) = try await Self.token(app)
            let made = try await send(app, .POST, "/api/v1/drafts", headers: a, json: #"{"kind":"target","content":\#(Self.target)}"#)
            #expect(made.status == .created)
            let id = try #require(made.json["id"]?.stringValue)
            let before = try await Self.counts(app)
            let bodies = [
                #"{"kind":"target","content":{"id":"a\u0000b","title":"T"}}"#,
                #"{"kind":"target","content":{"id":"draft-target","title":"T\u0007"}}"#,
                #"{"kind":"target","content":{"id":"draft-target","title":"T","address":["a\u0000"]}}"#,
                #"{"kind":"target","content":{"id":"draft-target","x\u0000":"T"}}"#,
                #"{"kind":"document","case":"demo-li-wei","translation_of":"ua-126-19-0-en\u0000","content":{"id":"x","language":"fr"}}"#,
                #"{"kind":"document","urgent_action":"126/19","content":{"id":"x","language":"fr","translation_of":"ua-126-19-0-en\u0000"}}"#,
            ]
            for body in bodies {
                let res = try await send(app, .POST, "/api/v1/drafts", headers: a, json: body)
                #expect(res.status == .unprocessableEntity, "\(body): \(res.status) \(res.body.string)")
            }
            let saved = try await send(app, .PUT, "/api/v1/drafts/\(id)", headers: a,
                                       json: #"{"base_revision":1,"content":{"id":"draft-target\u0000","title":"T"}}"#)
            #expect(saved.status == .unprocessableEntity, "\(saved.body.string)")
            #expect(saved.body.string.contains("control characters"))
            #expect(try await Self.counts(app) == before, "nothing written")
            // Line breaks and tabs are text.
            let fine = try await send(app, .PUT, "/api/v1/drafts/\(id)", headers: a,
                                      json: #"{"base_revision":1,"content":{"id":"draft-target","title":"Prosecutor\tGeneral","address":["Moscow\nRussia"],"salutation":{},"languages":["ru"]}}"#)
            #expect(fine.status == .ok, "\(fine.body.string)")
        }
    }

    @Test(arguments: TestStorage.available) func aTargetIsWrittenReviewedAndPublishedThroughTheAPI(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let (a, aID) = try await Self.token(app), (b, bID) = try await Self.token(app)
            let made = try await send(app, .POST, "/api/v1/drafts", headers: a, json: #"{"kind":"target","content":\#(Self.target),"comment":"first go"}"#)
            #expect(made.status == .created, "\(made.body.string)")
            let id = try #require(made.json["id"]?.stringValue)
            #expect(made.headers.first(name: .location) == "/api/v1/drafts/\(id)")
            #expect(made.json["state"] == .string("draft") && made.json["current_revision"] == .number(1))
            #expect(made.json["problems"] == .array([]) && made.json["content"]?["title"] == .string("Prosecutor General"))
            #expect(made.json["events"]?.arrayValue?.first?["actor"] == .object(["kind": .string("token"), "id": .string(aID.uuidString.lowercased())]))

            // A save from revision 1 makes revision 2; a second save from revision 1 is refused with the changes.
            let second = Self.target.replacingOccurrences(of: "Prosecutor General", with: "Prosecutor General of Russia")
            let saved = try await send(app, .PUT, "/api/v1/drafts/\(id)", headers: a, json: #"{"base_revision":1,"content":\#(second)}"#)
            #expect(saved.status == .ok && saved.json["current_revision"] == .number(2))
            let stale = try await send(app, .PUT, "/api/v1/drafts/\(id)", headers: b,
                                       json: #"{"base_revision":1,"content":\#(Self.target.replacingOccurrences(of: "Moscow", with: "Kazan"))}"#)
            #expect(stale.status == .conflict && stale.json["error"] == .bool(true) && stale.json["current_revision"] == .number(2))
            #expect(stale.json["changes"] == .array([.object(["path": .string("title"), "before": .string("Prosecutor General"),
                                                              "after": .string("Prosecutor General of Russia")])]))
            #expect(try await DraftRevisionModel.query(on: app.db).count() == 2, "the stale save wrote nothing")

            // Reading: the item, a revision, a comparison, the list.
            let item = try await send(app, .GET, "/api/v1/drafts/\(id)", headers: a)
            #expect(item.status == .ok && item.json["revisions"]?.arrayValue?.count == 2)
            #expect(item.headers.first(name: .cacheControl) == "no-store", "unpublished work is kept by no cache")
            #expect(try await send(app, .GET, "/api/v1/drafts/\(id)/revisions/1", headers: a).json["content"]?["title"] == .string("Prosecutor General"))
            #expect(try await send(app, .GET, "/api/v1/drafts/\(id)/revisions/3", headers: a).status == .notFound)
            #expect(try await send(app, .GET, "/api/v1/drafts/\(id)/revisions/x", headers: a).status == .badRequest)
            let compared = try await send(app, .GET, "/api/v1/drafts/\(id)/compare?a=1&b=2", headers: a)
            #expect(compared.json["changes"]?.arrayValue?.map { $0["path"] } == [.string("title")])
            #expect(try await send(app, .GET, "/api/v1/drafts/\(id)/compare?a=1&b=9", headers: a).status == .notFound)
            #expect(try await send(app, .GET, "/api/v1/drafts/\(id)/compare?a=1&c=2", headers: a).status == .badRequest)

            // A step of a revision other than the current one is refused as a stale save is.
            #expect(try await Self.step(app, id, "submit", revision: 1, headers: a).status == .conflict)
            #expect(try await Self.step(app, id, "submit", revision: 2, headers: a).json["state"] == .string("in_review"))
            // Four eyes: the token that wrote revision 2 cannot approve it.
            let own = try await Self.step(app, id, "approve", revision: 2, headers: a)
            #expect(own.status == .forbidden && own.json["code"] == .string("draft_refused_own_work"))
            let early = try await Self.step(app, id, "publish", revision: 2, headers: b)
            #expect(early.status == .conflict && early.json["code"] == .string("draft_refused_state"))
            #expect(try await Self.step(app, id, "approve", revision: 2, headers: b).json["state"] == .string("approved"))
            let published = try await Self.step(app, id, "publish", revision: 2, headers: b)
            #expect(published.status == .ok && published.json["state"] == .string("published") && published.json["published_revision"] == .number(2))
            #expect(try await send(app, .GET, "/api/v1/targets/draft-target").json["title"] == .string("Prosecutor General of Russia"))
            #expect(try await send(app, .GET, "/api/v1/drafts?state=published", headers: a).json["data"]?.arrayValue?.count == 1)
            #expect(try await send(app, .GET, "/api/v1/drafts?state=draft", headers: a).json["data"] == .array([]))

            // The audit trail names the tokens, step by step.
            let entries = try await AuditEntryModel.query(on: app.db).filter(\.$subject == "item:\(id)").sort(\.$id).all()
            #expect(entries.map(\.action) == ["draft.create", "draft.save", "draft.submit", "draft.approve", "draft.publish"])
            #expect(entries.map(\.actorID) == [aID, aID, aID, bID, bID].map { $0.uuidString.lowercased() })
            #expect(try await Audit.verify(on: app.db).isIntact)

            // Editing the published target again: open finds the same item; a correction starts a draft.
            let opened = try await send(app, .POST, "/api/v1/drafts/open", headers: b, json: #"{"kind":"target","subject":"draft-target"}"#)
            #expect(opened.status == .ok && opened.json["id"] == .string(id))
            #expect(try await send(app, .POST, "/api/v1/drafts/open", headers: b, json: #"{"kind":"target","subject":"no-such-target"}"#).status == .notFound)
            let restored = try await send(app, .POST, "/api/v1/drafts/\(id)/restore", headers: b, json: #"{"revision":1,"base_revision":2}"#)
            #expect(restored.status == .ok && restored.json["state"] == .string("draft") && restored.json["current_revision"] == .number(3))
            #expect(restored.json["content"]?["title"] == .string("Prosecutor General"))
            #expect(try await send(app, .GET, "/api/v1/targets/draft-target").json["title"] == .string("Prosecutor General of Russia"),
                    "the published revision stays live until the correction is published")
        }
    }

    @Test(arguments: TestStorage.available) func fourEyesAreAPersonsNotATokens(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            // Pat makes two tokens; what one of them writes, the other cannot approve.
            let (pat, first) = try await Self.account(app, "pat@example.org")
            let (second, _) = try await APIToken.create(role: "publisher", scope: "write", label: "laptop", createdBy: pat.id, on: app.db)
            let other: HTTPHeaders = ["Authorization": "Bearer \(second)"]
            let (_, quinn) = try await Self.account(app, "quinn@example.org")
            let made = try await send(app, .POST, "/api/v1/drafts", headers: first, json: #"{"kind":"target","content":\#(Self.target)}"#)
            let id = try #require(made.json["id"]?.stringValue)
            #expect(try await Self.step(app, id, "submit", revision: 1, headers: other).status == .ok)
            let own = try await Self.step(app, id, "approve", revision: 1, headers: other)
            #expect(own.status == .forbidden && own.json["code"] == .string("draft_refused_own_work"), "\(own.body.string)")
            let emergency = try await Self.step(app, id, "publish_without_review", revision: 1, headers: other, extra: #","comment":"urgent""#)
            #expect(emergency.status == .ok, "a publisher may still publish their own work in an emergency: \(emergency.body.string)")
            // It waits for review by someone else: not by Pat's other token.
            let mark = try await Self.step(app, id, "mark_reviewed", revision: 1, headers: other)
            #expect(mark.status == .forbidden, "\(mark.body.string)")
            #expect(try await Self.step(app, id, "mark_reviewed", revision: 1, headers: quinn).status == .ok)
        }
    }

    @Test(arguments: TestStorage.available) func aNewUrgentActionIsScheduledWithItsNumberAndPublishedOnceWhenDue(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let (a, _) = try await Self.token(app), (b, bID) = try await Self.token(app)
            let document = #"{"id":"ua-{number}-0-en","sequence":0,"kind":"initial","language":"en","published":"2026-11-30","title":"Release Li Wei now","body":"Li Wei is held."}"#
            let made = try await send(app, .POST, "/api/v1/drafts", headers: a, json: #"{"kind":"document","case":"demo-li-wei","content":\#(document)}"#)
            #expect(made.status == .created && made.json["problems"] == .array([]), "\(made.body.string)")
            let id = try #require(made.json["id"]?.stringValue)
            #expect(made.json["case"] == .string("demo-li-wei") && made.json["urgent_action"] == .null)
            // A save cannot say it is another document: id, sequence, kind, language and the
            // publication date stay those of the revision it started from; the rest is saved.
            let moved = #"{"id":"ua-1-19-0-fr","sequence":3,"kind":"outcome","language":"fr","published":"2019-01-01","title":"Release Li Wei now!","body":"Li Wei is held."}"#
            let renamed = try await send(app, .PUT, "/api/v1/drafts/\(id)", headers: a, json: #"{"base_revision":1,"content":\#(moved)}"#)
            #expect(renamed.status == .ok, "\(renamed.body.string)")
            let kept = try await send(app, .GET, "/api/v1/drafts/\(id)/revisions/2", headers: a).json["content"]
            #expect(kept?["id"] == .string("ua-{number}-0-en") && kept?["sequence"] == .number(0) && kept?["kind"] == .string("initial"))
            #expect(kept?["language"] == .string("en") && kept?["published"] == .string("2026-11-30") && kept?["title"] == .string("Release Li Wei now!"))
            // Saving the same content again makes no revision.
            let again = try await send(app, .PUT, "/api/v1/drafts/\(id)", headers: a, json: #"{"base_revision":2,"content":\#(moved)}"#)
            #expect(again.status == .ok && again.json["current_revision"] == .number(2), "\(again.body.string)")
            _ = try await Self.step(app, id, "submit", revision: 2, headers: a)
            _ = try await Self.step(app, id, "approve", revision: 2, headers: b)
            let past = try await Self.step(app, id, "schedule", revision: 2, headers: b, extra: #","at":"2020-01-01T00:00:00Z""#)
            #expect(past.status == .unprocessableEntity && past.json["code"] == .string("draft_refused_not_future"))
            let noOffset = try await Self.step(app, id, "schedule", revision: 2, headers: b, extra: #","at":"2030-01-01T00:00:00""#)
            #expect(noOffset.status == .unprocessableEntity && noOffset.json["issues"]?.arrayValue?.first?["path"] == .string("$.at"))
            // A minute ahead (a loaded machine may take seconds to answer), then the schedulers'
            // clock moved past it rather than waiting.
            let at = Date().addingTimeInterval(60)
            let when = DraftAPITestsTime.rfc3339(at)
            let scheduled = try await Self.step(app, id, "schedule", revision: 2, headers: b, extra: #","at":"\#(when)","zone":"Europe/Madrid""#)
            #expect(scheduled.status == .ok && scheduled.json["state"] == .string("scheduled"), "\(scheduled.body.string)")
            #expect(scheduled.json["schedule_zone"] == .string("Europe/Madrid") && scheduled.json["scheduled_by"] == .string(bID.uuidString.lowercased()))
            // The number is given when it is scheduled.
            let number = try #require(scheduled.json["urgent_action"]?.stringValue.flatMap { UANumber($0) })
            let drafts = Drafts(publisher: app.vigilServices.publisher, now: { Date().addingTimeInterval(90) })
            // Two schedulers find it due at once: it is published once.
            async let first = drafts.publishDue(on: app.db)
            async let second = drafts.publishDue(on: app.db)
            let published = try await first.count + second.count
            #expect(published == 1)
            #expect(try await drafts.publishDue(on: app.db).isEmpty)
            let item = try await send(app, .GET, "/api/v1/drafts/\(id)", headers: a)
            #expect(item.json["state"] == .string("published") && item.json["late_seconds"] == .null)
            #expect(item.json["urgent_action"] == .string(number.description))
            #expect(item.json["subject"] == .string("ua-\(number.slug)-0-en"))
            #expect(item.json["events"]?.arrayValue?.filter { $0["to"] == .string("published") }.count == 1)
            let ua = try await send(app, .GET, "/api/v1/urgent-actions/\(number.slug)")
            #expect(ua.status == .ok && ua.json["case"] == .string("demo-li-wei"), "published as the number given when scheduled")
            let entries = try await AuditEntryModel.query(on: app.db).filter(\.$subject == "item:\(id)").filter(\.$action == "draft.publish_scheduled").all()
            #expect(entries.count == 1 && entries.first?.actorKind == "system")
        }
    }

    @Test(arguments: TestStorage.available) func onlyATokenWithTheRightScopeAndRolesMayWrite(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let (writer, _) = try await Self.token(app), (reader, _) = try await Self.token(app, scope: "read")
            let made = try await send(app, .POST, "/api/v1/drafts", headers: writer, json: #"{"kind":"target","content":\#(Self.target)}"#)
            let id = try #require(made.json["id"]?.stringValue)
            let before = try await Self.counts(app)
            let writes: [(HTTPMethod, String, String)] = [
                (.POST, "/api/v1/drafts", #"{"kind":"target","content":\#(Self.target)}"#),
                (.POST, "/api/v1/drafts/open", #"{"kind":"target","subject":"draft-target"}"#),
                (.PUT, "/api/v1/drafts/\(id)", #"{"base_revision":1,"content":{"id":"draft-target","title":"X"}}"#),
                (.POST, "/api/v1/drafts/\(id)/steps", #"{"step":"submit","revision":1}"#),
                (.POST, "/api/v1/drafts/\(id)/restore", #"{"revision":1,"base_revision":1}"#),
            ]
            for (method, path, body) in writes {
                #expect(try await send(app, method, path, headers: reader, json: body).status == .forbidden, "read scope: \(method) \(path)")
                #expect(try await send(app, method, path, json: body).status == .unauthorized, "anonymous: \(method) \(path)")
                #expect(try await send(app, method, path, headers: ["Authorization": "Bearer vgl_stolen"], json: body).status == .unauthorized)
            }
            let reads = ["/api/v1/drafts", "/api/v1/drafts/\(id)", "/api/v1/drafts/\(id)/revisions/1", "/api/v1/drafts/\(id)/compare?a=1&b=1"]
            for path in reads {
                #expect(try await send(app, .GET, path).status == .unauthorized, "unpublished work is not public: \(path)")
                #expect(try await send(app, .GET, path, headers: reader).status == .ok, "a read token reads: \(path)")
            }
            #expect(try await Self.counts(app) == before, "nothing written by a refused request")
            #expect(try await send(app, .GET, "/api/v1/drafts/\(UUID().uuidString)", headers: reader).status == .notFound)

            // A token acts with its maker's roles as they are now.
            let (maker, makersToken) = try await Self.account(app, "pub@example.org")
            let second = try await send(app, .POST, "/api/v1/drafts", headers: writer,
                                        json: #"{"kind":"target","content":\#(Self.target.replacingOccurrences(of: "draft-target", with: "other-target"))}"#)
            let secondID = try #require(second.json["id"]?.stringValue)
            for item in [id, secondID] { #expect(try await Self.step(app, item, "submit", revision: 1, headers: writer).status == .ok) }
            #expect(try await Self.step(app, id, "approve", revision: 1, headers: makersToken).json["state"] == .string("approved"))
            let approval = try await AuditEntryModel.query(on: app.db).filter(\.$action == "draft.approve").first()
            #expect(approval?.actorKind == "token", "the audit log names the token; the token names its maker")
            // The maker is an editor now (the role changed without the token being revoked yet): no approving.
            try await SupporterModel.query(on: app.db).filter(\.$id == maker.id!).set(\.$role, to: "editor").update()
            let refused = try await Self.step(app, secondID, "approve", revision: 1, headers: makersToken)
            #expect(refused.status == .forbidden && refused.json["error"] == .bool(true))
            #expect(try await send(app, .GET, "/api/v1/drafts/\(secondID)", headers: writer).json["state"] == .string("in_review"))
            // Taken away as an admin does: the token is revoked.
            try await SupporterModel.query(on: app.db).filter(\.$id == maker.id!).set(\.$role, to: "publisher").update()
            _ = try await NewsroomAccounts.setRoles(email: "pub@example.org", roles: [.editor], by: .commandLine, log: nil, on: app.db)
            #expect(try await Self.step(app, secondID, "approve", revision: 1, headers: makersToken).status == .unauthorized)
            #expect(try await send(app, .GET, "/api/v1/drafts/\(secondID)", headers: writer).json["state"] == .string("in_review"))
        }
    }

    @Test(arguments: TestStorage.available) func badBodiesAreRefusedAndWriteNothing(storage: TestStorage) async throws {
        try await withApp(storage, configure: { $0.maxBodyBytes = 20_000 }) { app in
            let (h, _) = try await Self.token(app)
            let made = try await send(app, .POST, "/api/v1/drafts", headers: h, json: #"{"kind":"target","content":\#(Self.target)}"#)
            let id = try #require(made.json["id"]?.stringValue)
            let before = try await Self.counts(app)
            let huge = String(repeating: "x", count: 30_000)
            for (method, path) in [(HTTPMethod.POST, "/api/v1/drafts"), (.PUT, "/api/v1/drafts/\(id)"), (.POST, "/api/v1/drafts/\(id)/steps")] {
                let notJSON = try await send(app, method, path, headers: h, json: "{\"kind\": ")
                #expect(notJSON.status == .badRequest && notJSON.json["error"] == .bool(true), "\(path)")
                #expect(try await send(app, method, path, headers: h, json: "kind=target", contentType: "application/x-www-form-urlencoded").status
                        == .unsupportedMediaType)
                #expect(try await send(app, method, path, headers: h, json: #"{"content":{"title":"\#(huge)"}}"#).status == .payloadTooLarge)
                let array = try await send(app, method, path, headers: h, json: "[1,2]")
                #expect(array.status == .unprocessableEntity && array.json["issues"]?.arrayValue?.first?["path"] == .string("$"))
            }
            let wrongTypes = try await send(app, .POST, "/api/v1/drafts", headers: h, json: #"{"kind":7,"content":"text","comment":["a"],"colour":"red"}"#)
            #expect(wrongTypes.status == .unprocessableEntity)
            #expect(Set(wrongTypes.json["issues"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []) == ["$.kind", "$.content", "$.comment", "$.colour"])
            let badKind = try await send(app, .POST, "/api/v1/drafts", headers: h, json: #"{"kind":"poem","content":{}}"#)
            #expect(badKind.status == .unprocessableEntity && badKind.json["issues"]?.arrayValue?.first?["path"] == .string("$.kind"))
            let noCase = try await send(app, .POST, "/api/v1/drafts", headers: h, json: #"{"kind":"document","content":{}}"#)
            #expect(noCase.json["issues"]?.arrayValue?.first?["path"] == .string("$.case"))
            let unknownCase = try await send(app, .POST, "/api/v1/drafts", headers: h, json: #"{"kind":"document","case":"nobody","content":{}}"#)
            #expect(unknownCase.status == .unprocessableEntity && unknownCase.json["issues"]?.arrayValue?.first?["path"] == .string("$.case"))
            let save = try await send(app, .PUT, "/api/v1/drafts/\(id)", headers: h, json: #"{"base_revision":"1","content":[]}"#)
            #expect(Set(save.json["issues"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []) == ["$.base_revision", "$.content"])
            #expect(try await send(app, .PUT, "/api/v1/drafts/\(id)", headers: h, json: #"{"base_revision":1.5,"content":{}}"#).status == .unprocessableEntity)
            let step = try await send(app, .POST, "/api/v1/drafts/\(id)/steps", headers: h, json: #"{"step":"launch","revision":1,"at":"tomorrow"}"#)
            #expect(Set(step.json["issues"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []) == ["$.step", "$.at"])
            let zone = try await send(app, .POST, "/api/v1/drafts/\(id)/steps", headers: h,
                                      json: #"{"step":"schedule","revision":1,"at":"2030-01-01T09:00:00+01:00","zone":"Mars/Olympus"}"#)
            #expect(zone.json["issues"]?.arrayValue?.first?["path"] == .string("$.zone"))
            let long = String(repeating: "y", count: Drafts.maxComment + 1)
            #expect(try await send(app, .POST, "/api/v1/drafts/\(id)/steps", headers: h,
                                   json: #"{"step":"submit","revision":1,"comment":"\#(long)"}"#).status == .unprocessableEntity)
            #expect(try await send(app, .GET, "/api/v1/drafts?state=lost", headers: h).status == .badRequest)
            #expect(try await send(app, .GET, "/api/v1/drafts?limit=1000", headers: h).status == .badRequest)
            #expect(try await send(app, .GET, "/api/v1/drafts?cursor=nonsense", headers: h).status == .badRequest)
            #expect(try await Self.counts(app) == before, "nothing written by a refused request")
            // An invalid item cannot be submitted: the refusal lists its problems with their paths.
            let broken = try await send(app, .PUT, "/api/v1/drafts/\(id)", headers: h, json: #"{"base_revision":1,"content":{"id":"draft-target"}}"#)
            #expect(broken.status == .ok && broken.json["problems"]?.arrayValue?.isEmpty == false)
            let submit = try await Self.step(app, id, "submit", revision: 2, headers: h)
            #expect(submit.status == .unprocessableEntity && submit.json["code"] == .string("draft_refused_invalid"))
            #expect(submit.json["issues"]?.arrayValue?.contains { $0["path"] == .string("$.title") } == true, "\(submit.body.string)")
        }
    }

    @Test(arguments: TestStorage.available) func theListIsPagedAndBounded(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let (h, _) = try await Self.token(app)
            var made: Set<String> = []
            for i in 0..<5 {
                let content = Self.target.replacingOccurrences(of: "draft-target", with: "target-\(i)")
                made.insert(try #require(try await send(app, .POST, "/api/v1/drafts", headers: h, json: #"{"kind":"target","content":\#(content)}"#).json["id"]?.stringValue))
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await send(app, .GET, "/api/v1/drafts?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), headers: h)
                #expect(page.status == .ok)
                let ids = page.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                #expect(ids.count <= 2)
                seen += ids
                cursor = page.json["next_cursor"]?.stringValue
            } while cursor != nil && seen.count < 20
            #expect(seen.count == 5 && Set(seen) == made, "every item once")
            #expect(try await send(app, .GET, "/api/v1/drafts?kind=document", headers: h).json["data"] == .array([]))
        }
    }

    /// A comment with a NUL was refused by PostgreSQL at INSERT (500) and cut by SQLite: refused
    /// before anything is written; line breaks stay allowed.
    @Test(arguments: TestStorage.available) func aCommentWithAControlCharacterIsRefused(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let (a, _) = try await Self.token(app)
            let before = try await DraftItemModel.query(on: app.db).count()
            let refused = try await send(app, .POST, "/api/v1/drafts", headers: a, json: #"{"kind":"target","content":\#(Self.target),"comment":"a\u0000b"}"#)
            #expect(refused.status == .unprocessableEntity, "\(refused.body.string)")
            #expect(try await DraftItemModel.query(on: app.db).count() == before)
            let made = try await send(app, .POST, "/api/v1/drafts", headers: a, json: #"{"kind":"target","content":\#(Self.target),"comment":"two\nlines"}"#)
            #expect(made.status == .created, "\(made.body.string)")
        }
    }
}

enum DraftAPITestsTime {
    static func rfc3339(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }
}
