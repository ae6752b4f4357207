import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

@Suite("JSON API v1")
struct APITests {
    @Test(arguments: TestStorage.available) func listsUrgentActionsWithTheirDocuments(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let res = try await send(app, .GET, "/api/v1/urgent-actions?country=RU")
            #expect(res.status == .ok)
            let data = res.json["data"]!.arrayValue!
            #expect(data.count == 1)
            #expect(data[0]["number"] == .string("126/19"))
            #expect(data[0]["case"] == .string("crimean-tatar-defenders-kuku"))
            let kinds = data[0]["documents"]!.arrayValue!.compactMap { $0["kind"]?.stringValue }
            #expect(kinds == ["initial", "initial", "update", "outcome"])
            #expect(res.json["next_cursor"] == .null)
        }
    }

    @Test(arguments: TestStorage.available) func listsGiveSummariesWithLinksAndTheWholeOnRequest(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let textKeys = ["body", "take_action", "additional_information", "quote", "corrections"]
            for list in ["/api/v1/urgent-actions?country=RU", "/api/v1/urgent-actions/126-19/documents", "/api/v1/documents?case=crimean-tatar-defenders-kuku"] {
                let summary = try await send(app, .GET, list)
                #expect(summary.status == .ok)
                let items = summary.json["data"]!.arrayValue!
                let docs = list.contains("urgent-actions?") ? items.flatMap { $0["documents"]!.arrayValue! } : items
                #expect(docs.count == 4, "\(list)")
                for d in docs {
                    #expect(textKeys.allSatisfy { d[$0] == nil }, "\(list): no text in a summary")
                    #expect(d["title"]?.stringValue?.isEmpty == false && d["published"] != nil && d["language"] != nil)
                    // The link gives the whole document.
                    let href = try #require(d["href"]?.stringValue)
                    #expect(href == "/api/v1/urgent-actions/126-19/documents/\(d["id"]!.stringValue!)")
                    let whole = try await send(app, .GET, href)
                    #expect(whole.status == .ok && whole.json["body"]?.stringValue?.isEmpty == false)
                }
                let full = try await send(app, .GET, list + (list.contains("?") ? "&" : "?") + "view=full")
                let fullItems = full.json["data"]!.arrayValue!
                let fullDocs = list.contains("urgent-actions?") ? fullItems.flatMap { $0["documents"]!.arrayValue! } : fullItems
                #expect(fullDocs.count == 4 && fullDocs.allSatisfy { $0["body"] != nil && $0["href"] == nil }, "\(list)&view=full")
                #expect(try await send(app, .GET, list + (list.contains("?") ? "&" : "?") + "view=everything").status == .badRequest)
            }
            // One urgent action or document read alone is whole, as before.
            let one = try await send(app, .GET, "/api/v1/urgent-actions/126-19")
            #expect(one.json["documents"]?.arrayValue?.allSatisfy { $0["body"] != nil } == true)
            // Lists that carry no document text take no view.
            #expect(try await send(app, .GET, "/api/v1/cases?view=full").status == .badRequest)
        }
    }

    @Test(arguments: TestStorage.available) func listsAreBuiltOncePerContentVersionWithETags(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let path = "/api/v1/urgent-actions?limit=100"
            let first = try await send(app, .GET, path)
            let etag = try #require(first.headers.first(name: .eTag))
            #expect(first.headers.first(name: "X-Cache") == "MISS" && first.headers.first(name: .lastModified) != nil)
            let second = try await send(app, .GET, path)
            #expect(second.headers.first(name: "X-Cache") == "HIT" && second.headers.first(name: .eTag) == etag)
            #expect(second.body.string == first.body.string)
            let conditional = try await send(app, .GET, path, headers: ["If-None-Match": etag])
            #expect(conditional.status == .notModified && conditional.body.readableBytes == 0)
            // Respellings of one query share its entry: no new render, no new entry.
            let entries = app.vigilServices.cache.entryCount
            for respelled in ["/api/v1/urgent-actions?limit=0100", "/api/v1/urgent-actions?&&limit=100&", "/api/v1/urgent-actions?%6Cimit=100"] {
                let res = try await send(app, .GET, respelled)
                #expect(res.status == .ok && res.headers.first(name: "X-Cache") == "HIT" && res.headers.first(name: .eTag) == etag, "\(respelled)")
            }
            #expect(app.vigilServices.cache.entryCount == entries)
            // A refused query is answered as before and never cached.
            #expect(try await send(app, .GET, "/api/v1/urgent-actions?limit=1000").status == .badRequest)
            // A published change makes the list new: another ETag, the new document in it.
            let h = try await editorHeaders(app)
            let update = #"{"id":"ua-77-26-1-en","sequence":1,"kind":"update","language":"en","published":"2026-11-30","title":"Still held","body":"Keep writing."}"#
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/77-26/documents", headers: h, json: update).status == .created)
            let after = try await send(app, .GET, path, headers: ["If-None-Match": etag])
            #expect(after.status == .ok && after.headers.first(name: .eTag) != etag)
            let titles = after.json["data"]!.arrayValue!.flatMap { $0["documents"]!.arrayValue! }.compactMap { $0["title"]?.stringValue }
            #expect(titles.contains("Still held"))
        }
    }

    @Test func manySmallListsUnderLongKeysStayWithinTheCacheBudget() async throws {
        try await withApp(.sqlite, configure: { $0.cacheBytes = 40_000 }) { app in
            try await loadDemo(app)
            let cache = app.vigilServices.cache
            // Each an empty page under its own key: the keys count against the budget too.
            let padding = String(repeating: "z", count: 700)
            for i in 0..<300 {
                let cursor = Cursor.encode([padding + String(i)])
                let res = try await send(app, .GET, "/api/v1/cases?cursor=\(cursor)")
                #expect(res.status == .ok && res.json["data"]?.arrayValue?.isEmpty == true)
                #expect(cache.storedBytes <= 40_000)
            }
            #expect(cache.entryCount < 40_000 / 1_000)
        }
    }

    @Test(arguments: TestStorage.available) func filters(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            func numbers(_ query: String) async throws -> [String] {
                let res = try await send(app, .GET, "/api/v1/urgent-actions?\(query)")
                #expect(res.status == .ok, "\(query)")
                return res.json["data"]?.arrayValue?.compactMap { $0["number"]?.stringValue } ?? []
            }
            #expect(try await numbers("") == ["88/26", "77/26", "12/25", "126/19"])
            #expect(try await numbers("kind=outcome") == ["12/25", "126/19"])
            #expect(try await numbers("language=ar") == ["77/26"])
            #expect(try await numbers("status=open") == ["88/26", "77/26"])
            #expect(try await numbers("theme=unfair-trials") == ["126/19"])
            #expect(try await numbers("case=demo-li-wei") == ["88/26"])
            #expect(try await numbers("updated_since=2999-01-01").isEmpty)
            #expect(try await numbers("updated_since=2000-01-01T00:00:00Z").count == 4)

            let docs = try await send(app, .GET, "/api/v1/documents?language=zh-Hans")
            #expect(docs.json["data"]?.arrayValue?.map { $0["id"] } == [.string("ua-88-26-0-zh")])
            let cases = try await send(app, .GET, "/api/v1/cases?status=closed")
            #expect(cases.json["data"]?.arrayValue?.map { $0["id"] } == [.string("demo-ana-morales")])
            let targets = try await send(app, .GET, "/api/v1/targets?country=RU")
            // The prosecutor general, the supreme court's chair and Russia's two example embassies.
            #expect(targets.json["data"]?.arrayValue?.count == 4)
        }
    }

    @Test(arguments: ["urgent-actions", "documents", "cases", "targets"])
    func paginationVisitsEveryItemOnce(list: String) async throws {
        try await withApp { app in
            try await loadDemo(app)
            let all = try await send(app, .GET, "/api/v1/\(list)?limit=100").json["data"]!.arrayValue!
            var seen: [JSONValue] = []
            var path = "/api/v1/\(list)?limit=1"
            while true {
                let res = try await send(app, .GET, path)
                #expect(res.status == .ok)
                seen += res.json["data"]!.arrayValue!
                guard let next = res.json["next_cursor"]?.stringValue else { break }
                path = "/api/v1/\(list)?limit=1&cursor=\(next)"
                if seen.count > 50 { Issue.record("pagination does not end"); break }
            }
            #expect(seen == all)
            #expect(all.count > 2)
        }
    }

    @Test(arguments: TestStorage.available) func readsOneOfEach(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            #expect(try await send(app, .GET, "/api/v1/cases/crimean-tatar-defenders-kuku").json["people"]?.arrayValue?.count == 6)
            #expect(try await send(app, .GET, "/api/v1/urgent-actions/126-19").json["status"] == .string("closed"))
            #expect(try await send(app, .GET, "/api/v1/urgent-actions/126-19/documents").json["data"]?.arrayValue?.count == 4)
            let outcome = try await send(app, .GET, "/api/v1/urgent-actions/126-19/documents/ua-126-19-2-en").json
            #expect(outcome["quote"]?["by"] == .string("Emir-Usein Kuku"))
            #expect(try await send(app, .GET, "/api/v1/documents/ua-77-26-0-ar").json["urgent_action"] == .string("77/26"))
            #expect(try await send(app, .GET, "/api/v1/targets/ru-prosecutor-general").json["salutation"]?["ru"] != nil)
            let export = try await send(app, .GET, "/api/v1/export?case=demo-ana-morales").json
            #expect(export["targets"]?.arrayValue?.map { $0["id"] } == [.string("ni-attorney-general")])
        }
    }

    @Test(arguments: [
        ("/api/v1/urgent-actions?limit=0", HTTPStatus.badRequest),
        ("/api/v1/urgent-actions?limit=abc", .badRequest),
        ("/api/v1/urgent-actions?limit=101", .badRequest),
        ("/api/v1/urgent-actions?cursor=%%%", .badRequest),
        ("/api/v1/urgent-actions?cursor=bm90LWpzb24", .badRequest),
        ("/api/v1/documents?cursor=WyJ4Il0", .badRequest),
        ("/api/v1/urgent-actions?colour=red", .badRequest),
        ("/api/v1/urgent-actions?country=XX", .badRequest),
        ("/api/v1/urgent-actions?country=ru", .badRequest),
        ("/api/v1/urgent-actions?status=maybe", .badRequest),
        ("/api/v1/urgent-actions?language=english", .badRequest),
        ("/api/v1/urgent-actions?updated_since=yesterday", .badRequest),
        ("/api/v1/urgent-actions?limit=1&limit=2", .badRequest),
        ("/api/v1/urgent-actions/126%2F19", .badRequest),
        ("/api/v1/urgent-actions/999-99", .notFound),
        ("/api/v1/cases/Not%20A%20Slug", .badRequest),
        ("/api/v1/cases/no-such-case", .notFound),
        ("/api/v1/documents/no-such-document", .notFound),
        ("/api/v1/targets/no-such-target", .notFound),
        ("/api/v1/urgent-actions/126-19/documents/ua-77-26-0-ar", .notFound),
        ("/api/v1/export?case=nope", .notFound),
        ("/api/v1/nothing-here", .notFound),
    ])
    func badReadsGetAClearError(path: String, status: HTTPStatus) async throws {
        try await withApp { app in
            try await loadDemo(app)
            let res = try await send(app, .GET, path)
            #expect(res.status == status, "\(path)")
            #expect(res.json["error"] == .bool(true))
            #expect(res.json["reason"]?.stringValue?.isEmpty == false)
        }
    }

    @Test(arguments: TestStorage.available) func writesNeedAnEditorToken(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let body = #"{"id":"x","title":"X","countries":["FR"]}"#
            #expect(try await send(app, .POST, "/api/v1/cases", json: body).status == .unauthorized)
            #expect(try await send(app, .POST, "/api/v1/cases", headers: ["Authorization": "Bearer vgl_wrong"], json: body).status == .unauthorized)
            // A revoked token no longer works.
            let headers = try await editorHeaders(app)
            try await APITokenModel.query(on: app.db).set(\.$revokedAt, to: Date()).update()
            #expect(try await send(app, .POST, "/api/v1/cases", headers: headers, json: body).status == .unauthorized)
            #expect(try await CaseModel.query(on: app.db).count() == 0)
        }
    }

    @Test(arguments: TestStorage.available) func createReplaceAndConflict(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let h = try await editorHeaders(app)
            let body = #"{"id":"new-case","title":"New","countries":["FR"],"people":[{"id":"np","name":"Née","status":"detained"}]}"#
            let created = try await send(app, .POST, "/api/v1/cases", headers: h, json: body)
            #expect(created.status == .created)
            #expect(created.headers.first(name: .location) == "/api/v1/cases/new-case")
            #expect(try await send(app, .POST, "/api/v1/cases", headers: h, json: body).status == .conflict)
            let replaced = try await send(app, .PUT, "/api/v1/cases/new-case", headers: h,
                                          json: #"{"title":"Renamed","countries":["FR","BE"]}"#)
            #expect(replaced.status == .ok)
            #expect(replaced.json["countries"] == .array([.string("FR"), .string("BE")]))
            #expect(replaced.json["people"] == .array([]))
            let mismatch = try await send(app, .PUT, "/api/v1/cases/new-case", headers: h, json: #"{"id":"other","title":"X","countries":["FR"]}"#)
            #expect(mismatch.status == .unprocessableEntity)
            #expect(mismatch.json["issues"]?.arrayValue?.first?["path"] == .string("$.id"))

            let target = #"{"id":"fr-minister","title":"Minister of Justice","country":"FR","salutation":{"fr":"Monsieur le Ministre"}}"#
            #expect(try await send(app, .POST, "/api/v1/targets", headers: h, json: target).status == .created)
            #expect(try await send(app, .POST, "/api/v1/targets", headers: h, json: target).status == .conflict)
            #expect(try await send(app, .PUT, "/api/v1/targets/fr-minister", headers: h, json: target).status == .ok)
        }
    }

    @Test(arguments: TestStorage.available) func badBodiesAreRefusedWithReasons(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let h = try await editorHeaders(app)
            #expect(try await send(app, .POST, "/api/v1/cases", headers: h, json: "{", contentType: "application/json").status == .badRequest)
            #expect(try await send(app, .POST, "/api/v1/cases", headers: h, json: "{}", contentType: "text/plain").status == .unsupportedMediaType)
            #expect(try await send(app, .POST, "/api/v1/cases", headers: h, json: "[1,2]").status == .unprocessableEntity)
            #expect(try await send(app, .POST, "/api/v1/cases", headers: h, json: "").status == .badRequest)
            let wrong = try await send(app, .POST, "/api/v1/cases", headers: h,
                                       json: #"{"id":7,"title":["x"],"countries":"FR","people":{},"extra":1}"#)
            #expect(wrong.status == .unprocessableEntity)
            let paths = Set(wrong.json["issues"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? [])
            #expect(paths == ["$.id", "$.title", "$.countries", "$.people", "$.extra"])
            #expect(try await CaseModel.query(on: app.db).count() == 0)
        }
    }

    @Test(arguments: TestStorage.available) func anOutcomePostedToAnOpenActionClosesIt(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let h = try await editorHeaders(app)
            let outcome = #"{"id":"ua-77-26-1-en","sequence":1,"kind":"outcome","outcome":"good-news","no_further_action":true,"language":"en","published":"2026-11-20","title":"Released","body":"Nour Hassan was released."}"#
            let res = try await send(app, .POST, "/api/v1/urgent-actions/77-26/documents", headers: h, json: outcome)
            #expect(res.status == .created)
            #expect(try await send(app, .GET, "/api/v1/urgent-actions/77-26").json["status"] == .string("closed"))
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/77-26/documents", headers: h, json: outcome).status == .conflict)
            // Nothing may follow it.
            let late = #"{"id":"ua-77-26-2-en","sequence":2,"kind":"update","language":"en","published":"2026-11-21","title":"Late","body":"x"}"#
            let refused = try await send(app, .POST, "/api/v1/urgent-actions/77-26/documents", headers: h, json: late)
            #expect(refused.status == .unprocessableEntity)
            #expect(try await send(app, .POST, "/api/v1/urgent-actions/1-01/documents", headers: h, json: late).status == .notFound)
        }
    }

    @Test(arguments: TestStorage.available) func bundlesImportAllOrNothing(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let h = try await editorHeaders(app)
            var demo = try demoBundle().json
            let good = demo.serialized()
            if case .object(var o) = demo { o["targets"] = .array([]); demo = .object(o) }
            let refused = try await send(app, .POST, "/api/v1/bundles", headers: h, json: demo.serialized())
            #expect(refused.status == .unprocessableEntity)
            #expect((refused.json["issues"]?.arrayValue?.count ?? 0) >= 8)
            #expect(try await CaseModel.query(on: app.db).count() == 0)
            let ok = try await send(app, .POST, "/api/v1/bundles", headers: h, json: good)
            #expect(ok.status == .ok)
            #expect(ok.json["created"] != .number(0))
            let again = try await send(app, .POST, "/api/v1/bundles", headers: h, json: good)
            #expect(again.json["created"] == .number(0) && again.json["updated"] == .number(0))
        }
    }

    @Test(arguments: TestStorage.available) func health(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let res = try await send(app, .GET, "/healthz")
            #expect(res.status == .ok)
        }
        try await withApp(sqlitePath: "/nonexistent-directory/vigil.sqlite", migrate: false) { app in
            let res = try await send(app, .GET, "/healthz")
            #expect(res.status == .serviceUnavailable)
        }
    }

    @Test(arguments: TestStorage.available) func everyRouteIsInTheOpenAPIDocumentAndBack(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let doc = try await send(app, .GET, "/api/v1/openapi.json").json
            #expect(doc["openapi"] == .string("3.1.0"))
            // Compared by shape: the document names parameters for readers, the router by position.
            func shape(_ path: String) -> String {
                path.split(separator: "/", omittingEmptySubsequences: false).map { $0.hasPrefix("{") ? "{}" : String($0) }.joined(separator: "/")
            }
            var documented: Set<String> = []
            for (path, item) in doc["paths"]?.objectValue ?? [:] {
                for method in ["get", "post", "put", "delete", "patch"] where item[method] != nil {
                    documented.insert("\(method.uppercased()) \(shape(path))")
                }
            }
            var served: Set<String> = []
            for route in app.routes.all {
                let path = "/" + route.path.map { component -> String in
                    switch component {
                    case .constant(let c): return c
                    case .parameter: return "{}"
                    default: return "*"
                    }
                }.joined(separator: "/")
                if path.hasPrefix(Endpoint.apiRoot) { served.insert("\(route.method.rawValue) \(path)") }
            }
            // And the route table: every API endpoint, printed with placeholders.
            var named: Set<String> = []
            for name in Endpoint.Name.allCases {
                let path = "/" + name.segments.map { s -> String in
                    if case .literal(let l) = s { return l }
                    return "{}"
                }.joined(separator: "/")
                if path.hasPrefix(Endpoint.apiRoot) { named.insert("\(name.method.rawValue) \(path)") }
            }
            #expect(served == documented)
            #expect(named == documented)
        }
    }
}
