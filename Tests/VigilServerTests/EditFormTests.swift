import Foundation
import Testing
@testable import VigilCore
@testable import VigilServer

/// The newsroom's editing forms: what is shown comes back unchanged, buttons add and remove items,
/// problems land on their fields, and hostile posts build nothing large.
@Suite("Editing forms")
struct EditFormTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let strings: Strings = try! Catalogue.load(directory: root.appendingPathComponent("Resources/Locales").path).english
    static let partial: Template = try! Template(
        name: "partials/edit-form",
        source: String(contentsOf: root.appendingPathComponent("Resources/Views/partials/edit-form.html"), encoding: .utf8))

    // MARK: Helpers

    /// The partial's HTML for a view, with the UI strings as pages have them.
    func html(_ view: EditForm.View) throws -> String {
        guard case .object(var fields) = view.templateValue else { throw EditFormTestError.notAnObject }
        fields["t"] = Self.strings.templateValue
        return try Self.partial.render(.object(fields), partials: { throw EditFormTestError.unknownPartial($0) })
    }

    /// Character references decoded scalar by scalar, as a browser does (`&gt;` followed by a
    /// combining mark is one Character in Swift, but still a reference).
    static func unescape(_ s: String) -> String {
        let entities: [String: Unicode.Scalar] = ["lt": "<", "gt": ">", "quot": "\"", "#39": "'", "amp": "&"]
        let scalars = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            if scalars[i] == "&", let end = scalars[i...].prefix(6).firstIndex(of: ";"),
               let decoded = entities[String(String.UnicodeScalarView(scalars[(i + 1)..<end]))] {
                out.append(decoded)
                i = end + 1
            } else {
                out.append(scalars[i])
                i += 1
            }
        }
        return String(out)
    }

    static func attributes(_ s: String) -> [String: String] {
        let re = try! NSRegularExpression(pattern: #"([a-z][a-z-]*)(?:="([^"]*)")?"#)
        var out: [String: String] = [:]
        for m in re.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
            let name = String(s[Range(m.range(at: 1), in: s)!])
            let value = Range(m.range(at: 2), in: s).map { unescape(String(s[$0])) } ?? ""
            out[name] = value
        }
        return out
    }

    /// What a browser posts for the form in `html`, in document order: every text input and
    /// textarea (line breaks as CRLF), the selected option of each select (or the first), ticked
    /// checkboxes; no button unless `click` names one (`(name, value)`).
    static func post(_ html: String, click: (String, String)? = nil) -> [(name: String, value: String)] {
        var found: [(at: Int, name: String, value: String)] = []
        func each(_ pattern: String, _ body: (NSTextCheckingResult) -> Void) {
            let re = try! NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
            for m in re.matches(in: html, range: NSRange(html.startIndex..., in: html)) { body(m) }
        }
        func text(_ m: NSTextCheckingResult, _ i: Int) -> String { String(html[Range(m.range(at: i), in: html)!]) }
        each(#"<input\b([^>]*)>"#) { m in
            let a = attributes(text(m, 1))
            guard let name = a["name"] else { return }
            if a["type"] == "checkbox" && a["checked"] == nil { return }
            found.append((m.range.location, name, a["value"] ?? ""))
        }
        each(#"<textarea\b([^>]*)>(.*?)</textarea>"#) { m in
            let a = attributes(text(m, 1))
            guard let name = a["name"] else { return }
            var value = text(m, 2)
            if value.hasPrefix("\n") { value.removeFirst() }  // the parser drops the newline after the start tag
            found.append((m.range.location, name, unescape(value).replacingOccurrences(of: "\n", with: "\r\n")))
        }
        each(#"<select\b([^>]*)>(.*?)</select>"#) { m in
            let a = attributes(text(m, 1))
            guard let name = a["name"] else { return }
            let inner = text(m, 2)
            let re = try! NSRegularExpression(pattern: #"<option\b([^>]*)>"#)
            let options = re.matches(in: inner, range: NSRange(inner.startIndex..., in: inner))
                .map { attributes(String(inner[Range($0.range(at: 1), in: inner)!])) }
            let chosen = options.first(where: { $0["selected"] != nil }) ?? options.first
            found.append((m.range.location, name, chosen?["value"] ?? ""))
        }
        var pairs = found.sorted { $0.at < $1.at }.map { (name: $0.name, value: $0.value) }
        if let click { pairs.append((name: click.0, value: click.1)) }
        return pairs
    }

    /// The pairs as a browser encodes them, read back as the server does.
    static func encoded(_ pairs: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: "a"..."z").union(CharacterSet(charactersIn: "A"..."Z"))
            .union(CharacterSet(charactersIn: "0"..."9")))
        allowed.insert(charactersIn: "-._*")
        func enc(_ s: String) -> String {
            s.split(separator: " ", omittingEmptySubsequences: false)
                .map { $0.addingPercentEncoding(withAllowedCharacters: allowed)! }.joined(separator: "+")
        }
        let body = pairs.map { enc($0.name) + "=" + enc($0.value) }.joined(separator: "&")
        return EditForm.formPairs(urlencoded: body)
    }

    /// Render → post what the browser shows → read.
    func roundTrip(_ schema: EditForm.Schema, _ json: JSONValue, click: (String, String)? = nil) throws -> EditForm.Reading {
        let page = try html(EditForm.render(schema, value: json, strings: Self.strings))
        return EditForm.read(schema, form: Self.encoded(Self.post(page, click: click)))
    }

    func expectSame(_ schema: EditForm.Schema, _ json: JSONValue, _ what: String) throws {
        let r = try roundTrip(schema, json)
        #expect(r.value == json, "\(what): \(r.value.serialized()) is not \(json.serialized())")
        #expect(r.issues.isEmpty && r.action == .none, "\(what): \(r.issues)")
    }

    // MARK: Round trips

    @Test func everyCaseDocumentAndTargetOfTheDemoComesBackUnchanged() throws {
        let bundle = try demoBundle()
        #expect(!bundle.cases.isEmpty && !bundle.targets.isEmpty)
        var documents = 0
        for c in bundle.cases {
            try expectSame(EditForm.case, c.withoutUrgentActions.json, "case \(c.id)")
            for ua in c.urgentActions {
                for d in ua.documents {
                    try expectSame(EditForm.document, d.json, "document \(d.id)")
                    documents += 1
                }
            }
        }
        for t in bundle.targets { try expectSame(EditForm.target, t.json, "target \(t.id)") }
        #expect(documents >= 10)
    }

    /// Values that use every member the domain writes (the demo leaves some out) come back as they were,
    /// and the domain reads them without a problem.
    @Test func everyMemberOfTheDomainRoundTrips() throws {
        let person = Person(id: "ana-perez", name: "Ana Pérez", nameOriginal: "Анна Перес", nameOriginalLanguage: "ru", pronouns: "she/her",
                            role: "Journalist, editor", status: .onTrial, charges: ["Article 205.5, part 2", "Treason"],
                            sentences: [Sentence(term: .years(7, months: 6), court: "City Court", date: PartialDate("2024-03")!, stage: .appeal),
                                        Sentence(term: .life), Sentence(term: .death, date: PartialDate("2025")!)])
        let kase = Case(id: "ana", title: "Ana Pérez", summary: "Line one.\n\nLine \"two\" & <three>.", countries: ["RU", "BY"],
                        region: "Moscow", themes: ["journalists"], status: .closed, people: [person, Person(id: "b", name: "B", status: .released)],
                        timeline: [TimelineEvent(date: PartialDate("2024-03-01")!, kind: .verdict, people: ["ana-perez", "b"],
                                                 summary: "Sentenced.", source: "https://example.org/a")])
        let d0 = Diagnostics()
        _ = Case.read(kase.json, path: "$", diagnostics: d0)
        #expect(d0.isEmpty, "\(d0.issues)")
        try expectSame(EditForm.case, kase.withoutUrgentActions.json, "case")

        let doc = Document(id: "ua-1-en-outcome", sequence: 2, kind: .outcome, outcome: .mixed, noFurtherAction: false, language: "ar",
                           translationOf: "ua-1-en", aiIndex: "EUR 46/1098/2019", published: PartialDate("2024-04-01")!,
                           title: "عنوان", summary: "ملخص", body: "**Bold**\n\n- one\n- two",
                           takeAction: TakeAction(deadline: PartialDate("2024-05-01")!, preferredLanguages: ["ru", "en"],
                                                  targets: [TargetRef(target: "ru-prosecutor-general"), TargetRef(target: "other")],
                                                  copiesTo: [CopyTo(text: "Embassy", target: "ru-embassy"),
                                                             CopyTo(text: "Diplomatic representatives", diplomaticRepresentativesOf: "RU")],
                                                  letter: "Dear Sir,\n\nFree her.", otherChannels: "Share #FreeAna"),
                           additionalInformation: "More.", quote: Quote(text: "We will not stop.", by: "Ana"),
                           corrections: [Correction(date: PartialDate("2024-04-02")!, note: "A date was wrong.")])
        try expectSame(EditForm.document, doc.json, "document")
        var good = doc
        good.noFurtherAction = true; good.takeAction = nil; good.quote = Quote(text: "Thank you.")
        try expectSame(EditForm.document, good.json, "outcome asking for no further action")
        var update = doc
        update.kind = .update; update.outcome = nil; update.noFurtherAction = false; update.corrections = []
        try expectSame(EditForm.document, update.json, "update")

        let target = Target(id: "ru-embassy-gb", title: "Ambassador", name: "A. N. Other", organisation: "Embassy",
                            address: ["13 Kensington Palace Gardens", "London W8 4QX"], country: "GB", email: "embassy@example.org",
                            fax: "+44 20 0000 0000", phone: "+44 20 0000 0001", social: ["twitter": "@embassy", "telegram": "@emb"],
                            webForm: "https://example.org/contact", salutation: ["en": "Your Excellency", "ru": "Уважаемый господин посол"],
                            languages: ["en", "ru"], validFrom: PartialDate("2020")!, validTo: PartialDate("2030-01")!,
                            channelNotes: "Post is slow.", successorOf: "ru-embassy-gb-old", represents: "RU", accreditedTo: "GB")
        let d1 = Diagnostics()
        _ = Target.read(target.json, path: "$", diagnostics: d1)
        #expect(d1.isEmpty, "\(d1.issues)")
        try expectSame(EditForm.target, target.json, "target")
        try expectSame(EditForm.target, Target(id: "bare", title: "Bare").json, "a target with only what is required")
    }

    /// The schemas name every member the domain readers accept.
    @Test func theSchemasAreComplete() {
        #expect(Set(EditForm.target.fields.map(\.key)) == Target.fields)
        let caseKeys = Set(Case(id: "x", title: "x", countries: ["RU"]).json.objectValue!.keys)
        #expect(caseKeys.isSubset(of: Set(EditForm.case.fields.map(\.key))))
        let sentenceKeys = Set(EditForm.sentence.map(\.key))
        #expect(sentenceKeys.isSuperset(of: ["years", "months", "court", "date", "stage"]) && sentenceKeys.contains("term"))
        #expect(Set(EditForm.person.map(\.key)) == ["id", "name", "name_original", "name_original_language", "pronouns", "role",
                                                     "status", "charges", "sentences"])
        #expect(Set(EditForm.event.map(\.key)) == ["date", "kind", "people", "summary", "source"])
        #expect(Set(EditForm.document.fields.map(\.key)) == ["id", "sequence", "kind", "outcome", "no_further_action", "language",
                                                              "translation_of", "ai_index", "published", "title", "summary", "body",
                                                              "take_action", "additional_information", "quote", "corrections"])
        #expect(Set(EditForm.takeAction.map(\.key)) == ["deadline", "preferred_languages", "targets", "copies_to", "letter", "other_channels"])
    }

    // MARK: Buttons

    @Test func addAndRemoveItemsOfGroups() throws {
        let kase = try #require(try demoBundle().cases.first { $0.people.count >= 2 }).withoutUrgentActions
        let json = kase.json
        let people = json["people"]!.arrayValue!

        // add a person
        let added = try roundTrip(EditForm.case, json, click: ("add", "people"))
        #expect(added.action == .add("people") && added.issues.isEmpty)
        let after = try #require(added.value["people"]?.arrayValue)
        #expect(after.count == people.count + 1 && Array(after.prefix(people.count)) == people)
        #expect(after.last == .object(["sentences": .array([])]), "a new person is empty")
        #expect(added.focus == "f-people-\(people.count)-id")
        let shown = try html(EditForm.render(EditForm.case, value: added.value, strings: Self.strings, focus: added.focus))
        #expect(shown.contains(#"id="f-people-\#(people.count)-id" name="people[\#(people.count)].id" value="" dir="ltr" aria-required="true" aria-describedby="f-people-\#(people.count)-id-hint" autofocus>"#))
        #expect(shown.components(separatedBy: " autofocus").count == 2, "one element has the focus")

        // remove the first person
        let removed = try roundTrip(EditForm.case, json, click: ("remove", "people[0]"))
        #expect(removed.action == .remove("people[0]"))
        #expect(removed.value["people"]?.arrayValue == Array(people.dropFirst()))
        #expect(removed.focus == "f-people-add")

        // add a sentence to the second person, then remove the first sentence of the first
        let sentences = people[1]["sentences"]!.arrayValue!
        let nested = try roundTrip(EditForm.case, json, click: ("add", "people[1].sentences"))
        #expect(nested.value["people"]?.arrayValue?[1]["sentences"]?.arrayValue?.count == sentences.count + 1)
        #expect(nested.value["people"]?.arrayValue?[0] == people[0])
        #expect(nested.focus == "f-people-1-sentences-\(sentences.count)-term")
        let fewer = try roundTrip(EditForm.case, json, click: ("remove", "people[0].sentences[0]"))
        #expect(fewer.value["people"]?.arrayValue?[0]["sentences"]?.arrayValue == Array(people[0]["sentences"]!.arrayValue!.dropFirst()))

        // remove a timeline event; buttons that name nothing do nothing
        let timeline = json["timeline"]!.arrayValue!
        let noEvent = try roundTrip(EditForm.case, json, click: ("remove", "timeline[1]"))
        #expect(noEvent.value["timeline"]?.arrayValue == timeline.enumerated().filter { $0.offset != 1 }.map(\.element))
        for bad in [("remove", "people[99]"), ("remove", "people"), ("add", "people[0]"), ("add", "title"), ("add", "people[0].__proto__"),
                    ("remove", "people[-1]"), ("add", "people[0].sentences[0].court")] {
            let r = try roundTrip(EditForm.case, json, click: bad)
            #expect(r.action == .none && r.value == json, "\(bad)")
        }
    }

    @Test func aFullGroupTakesNoMoreItems() {
        var form: [(name: String, value: String)] = [("id", "x"), ("title", "T")]
        for i in 0..<50 { form.append(("people[0].sentences[\(i)].court", "C\(i)")) }
        form.append(("add", "people[0].sentences"))
        let r = EditForm.read(EditForm.case, form: form)
        #expect(r.action == .none && r.issues.map(\.path) == ["$.people[0].sentences"])
        #expect(r.value["people"]?.arrayValue?[0]["sentences"]?.arrayValue?.count == 50)
    }

    // MARK: Problems

    @Test func problemsLandOnTheirFields() throws {
        var json = try #require(try demoBundle().cases.first).withoutUrgentActions.json.objectValue!
        json["countries"] = .array([.string("RU"), .string("XX")])
        let d = Diagnostics()
        _ = Case.read(.object(json), path: "$", diagnostics: d)
        let country = try #require(d.issues.first { $0.path.hasPrefix("$.countries") })
        let issues = d.issues + [ValidationIssue(path: "$.bogus", message: "is not a known field"),
                                 ValidationIssue(path: "$.people[0].sentences[0]", message: "give a term"),
                                 ValidationIssue(path: "$.people[0].sentences[1].life", message: "may only be true")]
        let view = EditForm.render(EditForm.case, value: .object(json), issues: issues, strings: Self.strings)
        let row = try #require(view.rows.first { $0.id == "f-countries" })
        #expect(row.invalid && row.error == country.message && row.describedBy == "f-countries-hint f-countries-error")
        #expect(view.summary.contains(EditForm.SummaryItem(message: "Countries: \(country.message)", href: "#f-countries")))
        #expect(view.summary.contains(EditForm.SummaryItem(message: "bogus: is not a known field", href: "")), "summary only")
        #expect(view.rows.filter(\.invalid).count == 3)
        #expect(view.rows.first { $0.id == "f-people-0-sentences-0" }?.error == "give a term", "a problem of an item is on its fieldset")
        #expect(view.rows.first { $0.id == "f-people-0-sentences-1-term" }?.error == "may only be true")
        #expect(view.summary.contains(EditForm.SummaryItem(message: "Person 1 › Sentence 1: give a term", href: "#f-people-0-sentences-0")))

        let page = try html(view)
        #expect(page.contains(#"<input type="text" id="f-countries" name="countries" value="RU, XX" dir="ltr" aria-required="true" aria-describedby="f-countries-hint f-countries-error" aria-invalid="true">"#))
        #expect(page.contains(#"<p class="field-error" id="f-countries-error">"#))
        #expect(page.contains(##"<li><a href="#f-countries">"##) && page.contains("<li>bogus: is not a known field</li>"))
        #expect(page.contains(#"<fieldset class="edit-group edit-level-4 edit-item edit-invalid" id="f-people-0-sentences-0" aria-describedby="f-people-0-sentences-0-error">"#))
    }

    @Test func targetProblemsOfMapsAndTheReadersOwn() throws {
        var json = try #require(try demoBundle().targets.first).json.objectValue!
        json["salutation"] = .object(["en": .string("Dear Sir"), "english": .string("Dear Sir")])
        let d = Diagnostics()
        _ = Target.read(.object(json), path: "$", diagnostics: d)
        let view = EditForm.render(EditForm.target, value: .object(json), issues: d.issues, strings: Self.strings)
        let key = try #require(view.rows.first { $0.value == "english" })
        #expect(key.invalid && key.name == "salutation[1].key", "a bad key is on its input")

        // a value without a key, a key given twice, a value past its limit: read says so
        let r = EditForm.read(EditForm.target, form: [("id", "x"), ("title", "T"), ("salutation[0].key", ""), ("salutation[0].value", "Hello"),
                                                      ("salutation[1].key", "en"), ("salutation[1].value", "Dear"),
                                                      ("salutation[2].key", "en"), ("salutation[2].value", "Dear again"),
                                                      ("name", String(repeating: "n", count: 301))])
        #expect(Set(r.issues.map(\.path)) == ["$.salutation[0].key", "$.salutation[2].key", "$.name"])
        #expect(r.value["salutation"] == .object(["en": .string("Dear")]))
        // read's own problem and the domain reader's are the same words: shown once
        let domain = Diagnostics()
        _ = Target.read(r.value, path: "$", diagnostics: domain)
        #expect(domain.issues.contains(try #require(r.issues.first { $0.path == "$.name" })))
        let shown = EditForm.render(EditForm.target, value: r.value, issues: r.issues + domain.issues, strings: Self.strings)
        #expect(shown.rows.first { $0.id == "f-name" }?.error == "is too long (301 characters; at most 300)")
        #expect(shown.summary.filter { $0.href == "#f-name" }.count == 1)
    }

    // MARK: Reading

    @Test func readingFollowsTheDomainsJSON() throws {
        // a non-number is kept as text for the domain reader to name; the outcome's box is false when unticked
        let r = EditForm.read(EditForm.document, form: [("id", "d"), ("sequence", "two"), ("kind", "outcome"), ("outcome", "good-news"),
                                                        ("language", "en"), ("published", "2024-01-02"), ("title", "  "), ("body", "B\r\nC"),
                                                        ("take_action.deadline", ""), ("take_action.letter", ""), ("quote.text", ""), ("quote.by", "")])
        #expect(r.value == .object(["id": .string("d"), "sequence": .string("two"), "kind": .string("outcome"), "outcome": .string("good-news"),
                                    "no_further_action": .bool(false), "language": .string("en"), "published": .string("2024-01-02"),
                                    "body": .string("B\nC")]))
        let d = Diagnostics()
        _ = Document.read(r.value, path: "$", diagnostics: d)
        #expect(d.issues.map(\.path).sorted() == ["$.sequence", "$.title"])
        // an update leaves the box out unless ticked (and then the domain says it does not belong)
        let u = EditForm.read(EditForm.document, form: [("kind", "update"), ("no_further_action", "true")])
        #expect(u.value["no_further_action"] == .bool(true))
        #expect(EditForm.read(EditForm.document, form: [("kind", "update")]).value["no_further_action"] == nil)
        // lists and lines are split and trimmed; a sentence's term writes life or death
        let c = EditForm.read(EditForm.case, form: [("countries", " RU ,UA,, "), ("people[0].charges", " A, B \r\n\r\nC "),
                                                    ("people[0].sentences[0].term", "life"), ("people[0].sentences[1].term", "years"),
                                                    ("people[0].sentences[1].years", " 3 "), ("people[0].sentences[1].months", "")])
        #expect(c.value["countries"] == .array([.string("RU"), .string("UA")]))
        #expect(c.value["people"]?.arrayValue?[0]["charges"] == .array([.string("A, B"), .string("C")]))
        #expect(c.value["people"]?.arrayValue?[0]["sentences"] == .array([.object(["life": .bool(true)]), .object(["years": .number(3)])]))
        #expect(c.value["urgent_actions"] == .array([]) && c.value["themes"] == .array([]))
    }

    @Test func hostileNamesBuildNothing() {
        let form: [(name: String, value: String)] = [
            ("id", "x"), ("people[999999].name", "Last"), ("people[-1].name", "minus"), ("people[1].name", "First"),
            ("people[1234567].name", "seven digits"), ("__proto__", "p"), ("people[0].__proto__", "p"), ("constructor", "c"),
            ("people[2].sentences[0].court.a.b.c.d.e.f.g", "deep"), ("people[3]", "item"), ("people[4].sentences", "group"),
            (String(repeating: "a.", count: 500) + "a", "long"), ("people[1].name", "again"), ("PEOPLE[0].NAME", "upper"),
            ("people[0x1].name", "hex"), ("people[1].name ", "space"), ("people[ 1].name", "space"), ("people[1]].name", "bracket"),
        ]
        let r = EditForm.read(EditForm.case, form: form)
        let people = r.value["people"]?.arrayValue ?? []
        #expect(people.count == 2)
        #expect(people.first?["name"] == .string("First"), "the first value of a name counts")
        #expect(people.last?["name"] == .string("Last"), "indices are closed up in order")
        #expect(Set(r.value.objectValue!.keys) == ["id", "countries", "themes", "people", "timeline", "urgent_actions"])
        #expect(r.issues.isEmpty)

        // 10,000 people: refused, and no more than the domain's 500 are built
        var many: [(name: String, value: String)] = []
        for i in 0..<10_000 { many.append(("people[\(i)].name", "P\(i)")) }
        let big = EditForm.read(EditForm.case, form: many)
        #expect(big.issues.map(\.path) == ["$.people"])
        #expect(big.value["people"]?.arrayValue?.count == 500)

        // a body that does not decode loses only its bad pair
        let pairs = EditForm.formPairs(urlencoded: "title=%ZZ&id=a+b%26c&&countries=RU%2C%20UA&empty")
        #expect(pairs.map(\.name) == ["id", "countries", "empty"] && pairs.map(\.value) == ["a b&c", "RU, UA", ""])
    }

    // MARK: The page

    @Test func valuesAreEscaped() throws {
        let hostile = "\"><script>alert(1)</script>\u{301}'"
        var kase = Case(id: "x", title: hostile, summary: "</textarea><script>x</script>", countries: ["RU"],
                        people: [Person(id: "p", name: hostile, status: .atRisk)])
        kase.region = "a & b"
        let page = try html(EditForm.render(EditForm.case, value: kase.json, strings: Self.strings))
        #expect(!page.contains("<script>") && !page.contains("\"><script"))
        #expect(page.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\u{301}&#39;\""))
        #expect(page.contains("&lt;/textarea&gt;&lt;script&gt;x&lt;/script&gt;</textarea>"))
        try expectSame(EditForm.case, kase.json, "hostile text")
    }

    @Test func markdownPreviewOnlyWhenAsked() throws {
        let doc = try #require(try demoBundle().cases.flatMap(\.urgentActions).flatMap(\.documents).first { $0.takeAction?.letter != nil })
        var json = doc.json.objectValue!
        json["body"] = .string("They are **prisoners of conscience**.\n\n[Read](javascript:alert(1))")
        let plain = try html(EditForm.render(EditForm.document, value: .object(json), strings: Self.strings))
        #expect(!plain.contains("<strong>") && !plain.contains("edit-preview\""))
        let shown = try html(EditForm.render(EditForm.document, value: .object(json), strings: Self.strings, preview: true))
        #expect(shown.contains("<strong>prisoners of conscience</strong>") && !shown.contains("href=\"javascript"))
        #expect(shown.contains(#"<div lang="\#(doc.language)" dir="auto"><p>They are"#))
        let markdown = [json["body"], json["additional_information"], doc.json["take_action"]?["letter"], doc.json["take_action"]?["other_channels"]]
            .compactMap { $0 ?? nil }.count
        #expect(shown.components(separatedBy: #"<section class="edit-preview""#).count == markdown + 1, "each Markdown field")
    }

    /// Every input has its label, every described-by names an element of the form, ids are unique;
    /// the partial uses only values the view has.
    @Test func theFormIsWellFormed() throws {
        let bundle = try demoBundle()
        let doc = try #require(bundle.cases.flatMap(\.urgentActions).flatMap(\.documents).first { $0.takeAction != nil })
        let views = [EditForm.render(EditForm.case, value: bundle.cases[0].withoutUrgentActions.json, strings: Self.strings),
                     EditForm.render(EditForm.document, value: doc.json, strings: Self.strings, preview: true),
                     EditForm.render(EditForm.target, value: bundle.targets[0].json, strings: Self.strings)]
        for view in views {
            let page = try html(view)
            let idRE = try NSRegularExpression(pattern: #" id="([^"]+)""#)
            let ids = idRE.matches(in: page, range: NSRange(page.startIndex..., in: page)).map { String(page[Range($0.range(at: 1), in: page)!]) }
            #expect(Set(ids).count == ids.count, "ids are unique")
            for m in try NSRegularExpression(pattern: #"<(input|textarea|select) [^>]*id="([^"]+)""#).matches(in: page, range: NSRange(page.startIndex..., in: page)) {
                let id = String(page[Range(m.range(at: 2), in: page)!])
                #expect(page.contains(#"<label for="\#(id)">"#), "\(id) has a label")
            }
            for m in try NSRegularExpression(pattern: #"aria-describedby="([^"]+)""#).matches(in: page, range: NSRange(page.startIndex..., in: page)) {
                for id in page[Range(m.range(at: 1), in: page)!].split(separator: " ") { #expect(ids.contains(String(id)), "\(id) exists") }
            }
            #expect(page.components(separatedBy: "<fieldset").count == page.components(separatedBy: "</fieldset>").count)
            #expect(!page.contains("form_"), "every label comes from the catalogue")
        }
        guard case .object(var fields) = try TemplateSchema(describing: EditForm.View.example.templateValue) else {
            Issue.record("the view is not an object"); return
        }
        fields["t"] = TemplateSchema.strings(Self.strings)
        #expect(try Self.partial.problems(against: .object(fields), partials: { throw EditFormTestError.unknownPartial($0) }).isEmpty)
    }

    /// Every catalogue key the schemas name exists in English and is translated into the other four.
    @Test func everyLabelIsInEveryLanguage() throws {
        let catalogue = try Catalogue.load(directory: Self.root.appendingPathComponent("Resources/Locales").path)
        var keys: Set<String> = ["form_required", "form_error_prefix", "form_preview", "form_default_submit", "form_errors"]
        func walk(_ fields: [EditForm.Field]) {
            for f in fields {
                if !f.label.isEmpty { keys.insert(f.label) }
                if let h = f.hint { keys.insert(h) }
                switch f.kind {
                case .select(let options, let blank): options.forEach { keys.insert($0.label) }; if let blank { keys.insert(blank) }
                case .map(let k, let v, _, _): keys.formUnion([k, v])
                case .object(let sub): walk(sub)
                case .group(let sub, let item, _, _): keys.formUnion([item + "_item", item + "_add", item + "_remove"]); walk(sub)
                case .term: keys.formUnion(["form_choose", "form_term_years", "form_term_life", "form_term_death"])
                default: break
                }
            }
        }
        for schema in [EditForm.case, EditForm.document, EditForm.target] { walk(schema.fields) }
        for key in keys { #expect(catalogue.english.table[key] != nil, "\(key) is missing") }
        for lang in ["es", "fr", "ar", "ru"] {
            let own = try JSONValue.parse(Data(contentsOf: Self.root.appendingPathComponent("Resources/Locales/\(lang).json"))).objectValue ?? [:]
            // In the file itself (a few words are the same in English, like "Fax"), not only by fallback.
            for key in keys where key.hasPrefix("form_") && key != "form_errors" { #expect(own[key] != nil, "\(lang): \(key)") }
        }
    }
}

enum EditFormTestError: Error {
    case notAnObject
    case unknownPartial(String)
}
