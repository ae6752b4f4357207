import Fluent
import Foundation
import NIOCore
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// The newsroom's writing pages, used as a browser uses them: forms read from the page, changed,
/// posted back with every field; the workflow's buttons; stale copies; comparing; preview links.
@Suite struct NewsroomDraftPagesTests {
    let password = NewsroomLogin.password

    /// The name/value pairs a browser would post from the page's editing form (`class="edit-form"`):
    /// inputs (checkboxes only when ticked), textareas and the selected option of each select.
    static func formFields(_ html: String) -> [(String, String)] {
        guard let start = html.range(of: "<form class=\"edit-form\""), let end = html.range(of: "</form>", range: start.upperBound..<html.endIndex) else { return [] }
        let form = String(html[start.lowerBound..<end.upperBound])
        func unescape(_ s: Substring) -> String {
            s.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
                .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        }
        var out: [(String, String)] = []
        for m in form.matches(of: #/<(input|textarea|select)\b([^>]*)>/#) {
            let tag = m.1, attrs = m.2
            guard let name = attrs.firstMatch(of: #/\bname="([^"]*)"/#)?.1 else { continue }
            switch tag {
            case "input":
                let type = attrs.firstMatch(of: #/\btype="([^"]*)"/#)?.1 ?? "text"
                if type == "checkbox" || type == "radio" {
                    if attrs.contains(" checked") { out.append((unescape(name), unescape(attrs.firstMatch(of: #/\bvalue="([^"]*)"/#)?.1 ?? "on"))) }
                } else if type != "submit" {
                    out.append((unescape(name), unescape(attrs.firstMatch(of: #/\bvalue="([^"]*)"/#)?.1 ?? "")))
                }
            case "textarea":
                let rest = form[m.range.upperBound...]
                let text = rest.prefix(upTo: rest.range(of: "</textarea>")!.lowerBound)
                // A browser drops the newline that follows <textarea>.
                out.append((unescape(name), unescape(text.hasPrefix("\n") ? text.dropFirst() : text)))
            default:
                let rest = form[m.range.upperBound...]
                let options = rest.prefix(upTo: rest.range(of: "</select>")!.lowerBound)
                let chosen = options.matches(of: #/<option value="([^"]*)"([^>]*)>/#).first { $0.2.contains("selected") }
                    ?? options.matches(of: #/<option value="([^"]*)"([^>]*)>/#).first
                out.append((unescape(name), unescape(chosen?.1 ?? "")))
            }
        }
        return out
    }

    static func encode(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&")
    }

    /// Posts the editing form of `path` as shown, with `changes` applied (a nil value removes the field).
    static func saveForm(_ b: Browser, _ path: String, _ changes: [String: String?], extra: [(String, String)] = [("do", "save")],
                         base: String? = nil) async throws -> (TestingHTTPResponse, String) {
        let (_, html) = try await b.get(path)
        var pairs = formFields(html)
        for (k, v) in changes {
            if let i = pairs.firstIndex(where: { $0.0 == k }) {
                if let v { pairs[i].1 = v } else { pairs.remove(at: i) }
            } else if let v { pairs.append((k, v)) }
        }
        if let base, let i = pairs.firstIndex(where: { $0.0 == "base_revision" }) { pairs[i].1 = base }
        pairs += extra
        var headers = b.cookieHeader
        headers.add(name: .contentType, value: "application/x-www-form-urlencoded")
        let res = try await b.app.testing().sendRequest(.POST, path, headers: headers, body: ByteBuffer(string: encode(pairs)))
        b.remember(res)
        return (res, String(buffer: res.body))
    }

    static func step(_ b: Browser, _ path: String, _ step: String, revision: Int, comment: String = "", at: String = "", zone: String = "UTC")
        async throws -> (TestingHTTPResponse, String) {
        try await b.post(path + "/step", ["step": step, "revision": String(revision), "comment": comment, "at": at, "zone": zone], csrfFrom: path)
    }

    func item(_ app: Application, _ path: String) async throws -> DraftItemModel {
        let id = try #require(UUID(uuidString: String(path.split(separator: "/").last!)))
        return try #require(try await DraftItemModel.find(id, on: app.db))
    }

    @Test(arguments: TestStorage.available) func anUrgentActionIsWrittenReviewedScheduledPublishedAndCorrectedInTheBrowser(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let edna = Browser(app), pablo = Browser(app), paula = Browser(app)
            try await NewsroomLogin.account(app, edna, email: "edna@example.org", roles: [.editor])
            try await NewsroomLogin.account(app, pablo, email: "pablo@example.org", roles: [.publisher])
            try await NewsroomLogin.account(app, paula, email: "paula@example.org", roles: [.publisher])

            // The editor starts a new urgent action on a demo case.
            #expect(try await edna.get("/newsroom/drafts").0.status == .ok)
            let (made, _) = try await edna.post("/newsroom/drafts", ["kind": "urgent_action", "case": "demo-li-wei", "language": "en"], csrfFrom: "/newsroom/drafts")
            #expect(made.status == .seeOther)
            let path = try #require(made.headers.first(name: .location))
            let (page, html) = try await edna.get(path)
            #expect(page.status == .ok && html.contains("class=\"edit-form\""))

            // Saved from the form as shown, with a title, a body and a deadline.
            let (saved, savedHTML) = try await Self.saveForm(edna, path, [
                "title": "Lawyer held incommunicado", "body": "Li Wei was **detained** on 20 November.",
                "take_action.deadline": "2026-12-20", "take_action.letter": "Release Li Wei.",
                "take_action.targets[0].target": "cn-provincial-procurator"])
            #expect(saved.status == .ok, "\(savedHTML.prefix(2000))")
            #expect(savedHTML.contains("Saved as revision 2"))
            // A second save from the same copy (revision 1) is refused, shown the difference, and writes nothing.
            let (stale, staleHTML) = try await Self.saveForm(edna, path, ["title": "Another title"], base: "1")
            #expect(stale.status == .conflict)
            #expect(staleHTML.contains("Someone saved this item") && staleHTML.contains("<code dir=\"ltr\">title</code>"))
            #expect(try await item(app, path).currentRevision == 2)
            #expect(try await DraftRevisionModel.query(on: app.db).filter(\.$itemID == item(app, path).id!).count() == 2)

            // Submit; a publisher asks for a change (a comment is required); the editor revises.
            #expect(try await Self.step(edna, path, "submit", revision: 2).0.status == .ok)
            #expect(try await Self.step(edna, path, "approve", revision: 2).0.status == .forbidden, "an editor does not approve")
            #expect(try await Self.step(pablo, path, "request_changes", revision: 2).0.status == .unprocessableEntity)
            #expect(try await Self.step(pablo, path, "request_changes", revision: 2, comment: "Name the court").0.status == .ok)
            #expect(try await Self.saveForm(edna, path, ["summary": "Held by the Guangzhou court."]).1.contains("Saved as revision 3"))
            #expect(try await Self.step(edna, path, "submit", revision: 3).0.status == .ok)
            // The publisher sees who else has it open.
            #expect(try await pablo.get(path).1.contains("Someone else has this open"))
            #expect(try await Self.step(pablo, path, "approve", revision: 3).0.status == .ok)

            // Scheduling: not in the past; ahead, the number is given at once.
            #expect(try await Self.step(pablo, path, "schedule", revision: 3, at: "2020-01-01T09:00").0.status == .unprocessableEntity)
            #expect(try await Self.step(pablo, path, "schedule", revision: 3, at: "tomorrow").0.status == .unprocessableEntity)
            let ahead = Date().addingTimeInterval(3600)
            let f = DateFormatter(); f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "Europe/London"); f.dateFormat = "yyyy-MM-dd'T'HH:mm"
            let (scheduled, scheduledHTML) = try await Self.step(pablo, path, "schedule", revision: 3, at: f.string(from: ahead), zone: "Europe/London")
            #expect(scheduled.status == .ok && scheduledHTML.contains("(Europe/London)"), "\(scheduled.status) \(scheduledHTML.prefix(3000))")
            let dbg = try await item(app, path)
            #expect(dbg.state == "scheduled", "\(dbg.state) \(String(describing: dbg.uaNumber)) \(String(describing: dbg.scheduledAt))")
            let number = try #require(try await item(app, path).uaNumber.flatMap { UANumber($0) })
            #expect(number.year == 26 && number.serial == 89, "the next after the demo's 88/26: \(number)")
            #expect(try await UrgentActionModel.find(number.slug, on: app.db) == nil, "not published yet")

            // It goes out once, when due (the scheduler's job, with the clock moved on).
            let later = Drafts(publisher: app.vigilServices.publisher, now: { Date().addingTimeInterval(7200) })
            #expect(try await later.publishDue(on: app.db).count == 1)
            #expect(try await later.publishDue(on: app.db).isEmpty)
            let (pub, pubHTML) = try await send(app, .GET, "/urgent-actions/\(number.slug)/initial").asPage
            #expect(pub.status == .ok && pubHTML.contains("Lawyer held incommunicado"))
            #expect(try await item(app, path).lateSeconds != nil, "published an hour after its time: late")

            // A correction: opened from the published document, revised, approved, published with its note.
            let docID = "ua-\(number.slug)-0-en"
            let (opened, _) = try await edna.post("/newsroom/edit", ["kind": "document", "subject": docID], csrfFrom: "/newsroom/drafts")
            #expect(opened.headers.first(name: .location) == path, "the same item")
            let before = try await item(app, path).currentRevision
            #expect(try await Self.saveForm(edna, path, ["body": "Li Wei was **detained** on 21 November."]).0.status == .ok)
            #expect(try await Self.step(edna, path, "submit", revision: before + 1).0.status == .ok)
            #expect(try await Self.step(paula, path, "approve", revision: before + 1).0.status == .ok)
            #expect(try await Self.step(pablo, path, "publish", revision: before + 1).0.status == .unprocessableEntity, "a correction says what it corrects")
            #expect(try await Self.step(pablo, path, "publish", revision: before + 1, comment: "The date of the arrest was wrong.").0.status == .ok)
            let (_, correctedHTML) = try await send(app, .GET, "/urgent-actions/\(number.slug)/initial").asPage
            #expect(correctedHTML.contains("21 November") && correctedHTML.contains("The date of the arrest was wrong."))
            // The old text is still in the history, and the revisions compare field by field.
            let first = try #require(try await Drafts.revision(try await item(app, path), 3, on: app.db))
            #expect(first.content.contains("20 November"))
            let (cmp, cmpHTML) = try await edna.get(path + "/compare?a=3&b=\(before + 1)")
            #expect(cmp.status == .ok && cmpHTML.contains("<code dir=\"ltr\">body</code>"))
            #expect(try await edna.get(path + "/compare?a=3&b=999").0.status == .notFound)
            // Restoring makes a new revision.
            let current = try await item(app, path).currentRevision
            #expect(try await edna.post(path + "/restore", ["revision": "3", "base": String(current)], csrfFrom: path).0.status == .ok)
            #expect(try await item(app, path).currentRevision == current + 1)

            // The audit log holds every step and still verifies.
            #expect(try await Audit.verify(on: app.db).isIntact)
        }
    }

    @Test(arguments: TestStorage.available) func timesAreShownInTheReadersZoneNamedAndANewDraftIsNotAllErrors(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let edna = Browser(app)
            try await NewsroomLogin.account(app, edna, email: "edna@example.org", roles: [.editor])
            let (made, _) = try await edna.post("/newsroom/drafts", ["kind": "urgent_action", "case": "demo-li-wei", "language": "en"], csrfFrom: "/newsroom/drafts")
            let path = try #require(made.headers.first(name: .location))
            // A draft just started: blanks, not a page of "is required"; its date is set at publication.
            let (_, fresh) = try await edna.get(path)
            #expect(!fresh.contains("is required"), "\(fresh.prefix(3000))")
            #expect(fresh.contains("Set to the day it is published"))
            // Times in the organisation's zone (UTC here), named.
            #expect(fresh.contains(#/<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>/#))
            // The editor chooses Tokyo: every newsroom time is then shown there.
            let (set, home) = try await edna.post("/newsroom/time-zone", ["zone": "Asia/Tokyo"], csrfFrom: "/newsroom")
            #expect(set.status == .ok && home.contains("Times are now shown in Asia/Tokyo."))
            #expect(home.contains(#"<option value="Asia/Tokyo" selected>"#))
            let (_, tokyo) = try await edna.get(path)
            let revision = try #require(try await DraftRevisionModel.query(on: app.db).filter(\.$itemID == item(app, path).id!).first())
            #expect(tokyo.contains(">\(Moment(revision.createdAt, zone: TimeZone(identifier: "Asia/Tokyo")!).text)</time>"))
            #expect(try await edna.get("/newsroom/drafts").1.contains(" Asia/Tokyo</time>"))
            // Nonsense is refused and changes nothing; so is a form without its token.
            for bad in ["Mars/Olympus", String(repeating: "Europe/", count: 2000), "../../etc/localtime"] {
                let (refused, page) = try await edna.post("/newsroom/time-zone", ["zone": bad], csrfFrom: "/newsroom")
                #expect(refused.status == .unprocessableEntity && page.contains("Choose a time zone from the list."))
            }
            #expect(try await edna.post("/newsroom/time-zone", ["zone": "UTC", "csrf": "forged"]).0.status == .forbidden)
            let me = try #require(try await SupporterModel.query(on: app.db).filter(\.$email == "edna@example.org").first())
            #expect(me.timeZone == "Asia/Tokyo")
            // Back to the organisation's.
            #expect(try await edna.post("/newsroom/time-zone", ["zone": ""], csrfFrom: "/newsroom").0.status == .ok)
            #expect(try await SupporterModel.find(me.id, on: app.db)?.timeZone == nil)
            // Nobody else can set it.
            #expect(try await Browser(app).post("/newsroom/time-zone", ["zone": "UTC"]).0.status != .ok)
        }
    }

    @Test(arguments: TestStorage.available) func aTranslationMadeBeforeItsOriginalChangedIsFlaggedOutdatedWithTheChanges(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let edna = Browser(app), pablo = Browser(app)
            try await NewsroomLogin.account(app, edna, email: "edna@example.org", roles: [.editor])
            try await NewsroomLogin.account(app, pablo, email: "pablo@example.org", roles: [.publisher])
            // A French translation of UA 126/19's initial document, written and published in the newsroom.
            let (made, _) = try await edna.post("/newsroom/drafts", ["kind": "translation", "original": "ua-126-19-0-en", "language": "fr"],
                                                csrfFrom: "/newsroom/urgent-actions/126-19")
            #expect(made.status == .seeOther)
            let fr = try #require(made.headers.first(name: .location))
            #expect(try await Self.saveForm(edna, fr, ["title": "Ukraine : Emir-Usein Kuku doit être libéré"]).1.contains("Saved as revision 2"))
            #expect(try await Self.step(edna, fr, "submit", revision: 2).0.status == .ok)
            #expect(try await Self.step(pablo, fr, "approve", revision: 2).0.status == .ok)
            #expect(try await Self.step(pablo, fr, "publish", revision: 2).0.status == .ok)
            #expect(try await DocumentModel.find("ua-126-19-0-fr", on: app.db)?.translationOf == "ua-126-19-0-en")
            let (_, before) = try await pablo.get("/newsroom/urgent-actions/126-19")
            #expect(before.contains("Français") || before.contains("French"))
            #expect(!before.contains("outdated: the original changed since"))
            #expect(!(try await pablo.get(fr).1.contains("This translation is outdated.")))

            // The English original is corrected afterwards.
            let (opened, _) = try await edna.post("/newsroom/edit", ["kind": "document", "subject": "ua-126-19-0-en"], csrfFrom: "/newsroom/urgent-actions/126-19")
            let en = try #require(opened.headers.first(name: .location))
            let (savedEN, savedHTML) = try await Self.saveForm(edna, en, ["body": "Emir-Usein Kuku, a human rights defender, was sentenced to 12 years."])
            #expect(savedEN.status == .ok, "\(savedHTML.prefix(1500))")
            let revision = try await item(app, en).currentRevision
            #expect(try await Self.step(edna, en, "submit", revision: revision).0.status == .ok)
            #expect(try await Self.step(pablo, en, "approve", revision: revision).0.status == .ok)
            #expect(try await Self.step(pablo, en, "publish", revision: revision, comment: "The sentence was 12 years, not 11.").0.status == .ok)

            // The translation is flagged on the action's page and on its own, with the original's changes.
            let (_, after) = try await pablo.get("/newsroom/urgent-actions/126-19")
            #expect(after.contains("outdated: the original changed since"))
            let (_, frPage) = try await pablo.get(fr)
            #expect(frPage.contains("This translation is outdated."))
            let changes = try #require(frPage.firstMatch(of: #/<a href="([^"]*/compare\?[^"]*)">See what changed in the original</a>/#)?.1)
            let (compare, compareHTML) = try await pablo.get(String(changes).replacingOccurrences(of: "&amp;", with: "&"))
            #expect(compare.status == .ok && compareHTML.contains("<code dir=\"ltr\">body</code>") && compareHTML.contains("12 years"))
        }
    }

    @Test(arguments: TestStorage.available) func theListOfDraftsIsPagedAndAnyCaseCanBeNamed(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            let edna = Browser(app)
            try await NewsroomLogin.account(app, edna, email: "edna@example.org", roles: [.editor])
            let drafts = Drafts(publisher: app.vigilServices.publisher, now: { Date() })
            let actor = DraftActor.account(UUID(), roles: [.editor])
            for i in 0..<205 {
                _ = try await drafts.create(.target, content: .object(["id": .string("t-\(i)"), "title": .string("Official \(i)")]), by: actor, on: app.db)
            }
            func rows(_ html: String) -> Int { html.matches(of: #/<tr><th scope="row"><a href="/en/newsroom/drafts//#).count }
            let (_, first) = try await edna.get("/newsroom/drafts")
            #expect(rows(first) == 100 && first.contains(#"rel="next" href="/en/newsroom/drafts?page=2""#) && !first.contains(#"rel="prev""#))
            #expect(first.contains("Official 204") && !first.contains("Official 104<"), "newest change first")
            let (_, third) = try await edna.get("/newsroom/drafts?page=3")
            #expect(rows(third) == 5 && third.contains(#"rel="prev" href="/en/newsroom/drafts?page=2""#) && !third.contains(#"rel="next""#))
            let (_, filtered) = try await edna.get("/newsroom/drafts?state=draft&page=2")
            #expect(filtered.contains(#"href="/en/newsroom/drafts?state=draft&amp;page=3""#) || filtered.contains(#"href="/en/newsroom/drafts?page=3&amp;state=draft""#),
                    "the next page keeps the filter")
            // Nonsense pages are read as the nearest page there is; far past the end is empty.
            #expect(rows(try await edna.get("/newsroom/drafts?page=-4").1) == 100)
            #expect(try await edna.get("/newsroom/drafts?page=abc").0.status != .internalServerError)
            let (far, farHTML) = try await edna.get("/newsroom/drafts?page=99999999999")
            #expect(far.status == .ok && rows(farHTML) == 0)
            // The case of a new urgent action is typed (suggestions are the recently changed ones).
            #expect(first.contains(#"<input id="new-case-id" name="case" list="new-case-list""#))
        }
    }

    @Test(arguments: TestStorage.available) func previewLinksShowOneItemUntilTheyExpireOrAreRevokedAndEveryViewIsLogged(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let pablo = Browser(app), edna = Browser(app)
            try await NewsroomLogin.account(app, pablo, email: "pablo@example.org", roles: [.publisher])
            try await NewsroomLogin.account(app, edna, email: "edna@example.org", roles: [.editor])
            let (made, _) = try await edna.post("/newsroom/drafts", ["kind": "case"], csrfFrom: "/newsroom/drafts")
            let path = try #require(made.headers.first(name: .location))
            _ = try await Self.saveForm(edna, path, ["id": "new-case", "title": "Secret case title", "countries": "BY"])
            // An editor makes no preview links.
            #expect(try await edna.post(path + "/preview-links", ["label": "Lawyer", "days": "3"], csrfFrom: path).0.status == .forbidden)
            #expect(try await pablo.post(path + "/preview-links", ["label": "", "days": "3"], csrfFrom: path).0.status == .unprocessableEntity)
            #expect(try await pablo.post(path + "/preview-links", ["label": "Lawyer", "days": "365"], csrfFrom: path).0.status == .unprocessableEntity)
            // One line of text: a NUL (SQLite gave the label back cut there) or a line break is refused, nothing stored.
            for label in ["Our lawyer\u{0}<script>", "Our\nlawyer", "Our\u{7F}lawyer"] {
                #expect(try await pablo.post(path + "/preview-links", ["label": label, "days": "3"], csrfFrom: path).0.status == .unprocessableEntity)
            }
            #expect(try await PreviewLinkModel.query(on: app.db).count() == 0)
            let (res, html) = try await pablo.post(path + "/preview-links", ["label": "Our lawyer", "days": "3"], csrfFrom: path)
            #expect(res.status == .ok)
            let url = try #require(html.firstMatch(of: #/<code class="token" dir="ltr">[^<]*(/preview/[A-Za-z0-9_-]{43})</code>/#)?.1).description
            // Shown once: the page does not show it again.
            #expect(!(try await pablo.get(path).1.contains(url)))
            // Anyone with the link sees the item, never indexed; each view is logged, nothing about the viewer.
            let (view, viewHTML) = try await send(app, .GET, url).asPage
            #expect(view.status == .ok && viewHTML.contains("Secret case title"))
            #expect(view.headers.first(name: "X-Robots-Tag")?.contains("noindex") == true)
            #expect(view.headers.first(name: .cacheControl)?.contains("no-store") == true)
            #expect(try await PreviewViewModel.query(on: app.db).count() == 1)
            _ = try await send(app, .GET, url)
            // The draft page counts the link's views and says when it was last seen.
            let lastSeen = try #require(try await PreviewViewModel.query(on: app.db).sort(\.$at, .descending).first()).at
            let shown = try await pablo.get(path).1
            #expect(shown.contains("Our lawyer") && shown.contains("<td>2 · "), "\(shown)")
            #expect(shown.contains(">\(Moment(lastSeen, zone: TimeZone(identifier: "UTC")!).text)</time>"))
            // A guessed or altered token shows nothing.
            #expect(try await send(app, .GET, "/preview/" + String(repeating: "A", count: 43)).status == .notFound)
            #expect(try await send(app, .GET, String(url.dropLast()) + (url.hasSuffix("A") ? "B" : "A")).status == .notFound)
            #expect(try await send(app, .GET, "/preview/%27%20OR%201=1").status == .notFound)
            // Revoked: gone at once.
            let link = try #require(try await PreviewLinkModel.query(on: app.db).first())
            #expect(try await pablo.post(path + "/preview-links/\(link.id!.uuidString.lowercased())/revoke", [:], csrfFrom: path).0.status == .ok)
            #expect(try await send(app, .GET, url).status == .notFound)
            // Expired links show nothing either.
            let (_, html2) = try await pablo.post(path + "/preview-links", ["label": "Family", "days": "1"], csrfFrom: path)
            let url2 = try #require(html2.firstMatch(of: #/<code class="token" dir="ltr">[^<]*(/preview/[A-Za-z0-9_-]{43})</code>/#)?.1).description
            let second = try #require(try await PreviewLinkModel.query(on: app.db).filter(\.$label == "Family").first())
            second.expiresAt = Date().addingTimeInterval(-1)
            try await second.update(on: app.db)
            #expect(try await send(app, .GET, url2).status == .notFound)
            #expect(try await PreviewViewModel.query(on: app.db).count() == 2)
            let actions = try await AuditEntryModel.query(on: app.db).all().map(\.action)
            #expect(actions.contains("preview_link.create") && actions.contains("preview_link.revoke"))
        }
    }

    @Test(arguments: TestStorage.available) func aRedactionReachesEveryStoredRevision(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let edna = Browser(app)
            try await NewsroomLogin.account(app, edna, email: "edna@example.org", roles: [.editor])
            // Two items name the person: the case, and a correction of the action's document.
            for (kind, subject) in [("case", "demo-nour-hassan"), ("document", "ua-77-26-0-en")] {
                let (opened, _) = try await edna.post("/newsroom/edit", ["kind": kind, "subject": subject], csrfFrom: "/newsroom/drafts")
                let path = try #require(opened.headers.first(name: .location))
                _ = try await Self.saveForm(edna, path, ["comment": "Checked Nour Hassan's name"])
            }
            // And a new action on the case, not numbered yet.
            let (made, _) = try await edna.post("/newsroom/drafts", ["kind": "urgent_action", "case": "demo-nour-hassan"], csrfFrom: "/newsroom/drafts")
            _ = try await Self.saveForm(edna, try #require(made.headers.first(name: .location)), ["title": "Nour Hassan moved to another prison"])
            let contents = { try await DraftRevisionModel.query(on: app.db).all().map { $0.content + ($0.comment ?? "") } }
            #expect(try await contents().contains { $0.contains("Nour Hassan") })
            let publisher = app.vigilServices.publisher
            _ = try await publisher.publish(.withdraw(UANumber("77/26")!, reason: "Naming her endangers her"), by: .commandLine, on: app.db)
            _ = try await publisher.publish(.redact(UANumber("77/26")!, from: "Nour Hassan", to: "[name withheld]"), by: .commandLine, on: app.db)
            #expect(try await !contents().contains { $0.contains("Nour Hassan") })
            #expect(try await contents().contains { $0.contains("[name withheld]") })
            #expect(try await DraftItemModel.query(on: app.db).all().allSatisfy { !$0.title.contains("Nour Hassan") })
            // Every revision's hash still matches its text.
            #expect(try await DraftRevisionModel.query(on: app.db).all().allSatisfy { Drafts.hash($0.content) == $0.contentHash })
        }
    }

    @Test(arguments: TestStorage.available) func hostileCallersWriteNothing(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let edna = Browser(app)
            try await NewsroomLogin.account(app, edna, email: "edna@example.org", roles: [.editor])
            let (made, _) = try await edna.post("/newsroom/drafts", ["kind": "target"], csrfFrom: "/newsroom/drafts")
            let path = try #require(made.headers.first(name: .location))
            let revisions = { try await DraftRevisionModel.query(on: app.db).count() }
            let start = try await revisions()
            // Anonymous, with a large body: refused before the body is read.
            let big = ByteBuffer(string: "title=" + String(repeating: "a", count: 3_000_000))
            let anon = try await app.testing().sendRequest(.POST, path, headers: ["Content-Type": "application/x-www-form-urlencoded"], body: big)
            #expect(anon.status == .unauthorized)
            // A supporter.
            let sam = Browser(app)
            try await AccountTests().signUpAndVerify(app, sam, email: "sam@example.org")
            _ = try await sam.post("/login", ["email": "sam@example.org", "password": password], csrfFrom: "/login")
            #expect(try await sam.post(path, ["title": "x", "base_revision": "1"], csrfFrom: "/account").0.status == .forbidden)
            #expect(try await sam.get(path).0.status == .forbidden)
            // Without the form token.
            #expect(try await edna.post(path, ["title": "x", "base_revision": "1", "do": "save"]).0.status == .forbidden)
            // A text past its limit is refused with the form shown again.
            let (long, _) = try await Self.saveForm(edna, path, ["id": "x", "title": String(repeating: "t", count: 400)])
            #expect(long.status == .ok || long.status == .unprocessableEntity)
            // A group of 10,000 items is not built.
            var junk: [(String, String)] = [("base_revision", "1"), ("do", "save")]
            for i in 0..<10_001 { junk.append(("salutation[\(i)].key", "en")) }
            junk.append(("csrf", Browser.csrf(in: try await edna.get(path).1) ?? ""))
            var headers = edna.cookieHeader
            headers.add(name: .contentType, value: "application/x-www-form-urlencoded")
            let flood = try await app.testing().sendRequest(.POST, path, headers: headers, body: ByteBuffer(string: Self.encode(junk)))
            #expect(flood.status != .internalServerError)
            // Unknown items, steps and revisions.
            #expect(try await edna.get("/newsroom/drafts/\(UUID().uuidString)").0.status == .notFound)
            #expect(try await edna.post(path + "/step", ["step": "explode", "revision": "1"], csrfFrom: path).0.status == .badRequest)
            #expect(try await edna.post(path + "/step", ["step": "publish", "revision": "1"], csrfFrom: path).0.status == .forbidden)
            #expect(try await edna.post("/newsroom/edit", ["kind": "document", "subject": "no-such-document"], csrfFrom: "/newsroom/drafts").0.status == .notFound)
            #expect(try await edna.post("/newsroom/drafts", ["kind": "urgent_action", "case": "no-such-case"], csrfFrom: "/newsroom/drafts").0.status == .unprocessableEntity)
            #expect(try await edna.post("/newsroom/drafts", ["kind": "urgent_action", "case": "demo-li-wei", "number": "126/19"], csrfFrom: "/newsroom/drafts").0.status == .conflict,
                    "a typed number that exists is refused")
            #expect(try await revisions() <= start + 1)
        }
    }
}

extension TestingHTTPResponse {
    var asPage: (TestingHTTPResponse, String) { (self, String(buffer: body)) }
}
