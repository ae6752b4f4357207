import Foundation
import Testing
@testable import VigilCore

/// A small valid bundle to change in tests.
func sampleBundleJSON() -> [String: Any] {
    [
        "format": "vigil.bundle/1",
        "targets": [["id": "t1", "title": "Prosecutor General", "address": ["[Example]"], "country": "RU",
                     "salutation": ["en": "Dear Prosecutor General"], "languages": ["ru"]]],
        "cases": [[
            "id": "c1", "title": "A case", "countries": ["RU"], "themes": ["unfair-trials"], "status": "open",
            "people": [["id": "p1", "name": "Someone", "status": "imprisoned",
                        "sentences": [["years": 12, "months": 0, "date": "2019-11-12", "stage": "first-instance"]]]],
            "timeline": [["date": "2016", "kind": "arrest", "people": ["p1"], "summary": "Arrested"]],
            "urgent_actions": [[
                "number": "126/19", "status": "closed",
                "documents": [
                    ["id": "d0", "sequence": 0, "kind": "initial", "language": "en", "published": "2019-10-03",
                     "ai_index": "EUR 46/1098/2019", "title": "Initial", "body": "Body",
                     "take_action": ["deadline": "2019-11-14", "targets": [["target": "t1"]], "letter": "Dear…"]],
                    ["id": "d0-ru", "sequence": 0, "kind": "initial", "language": "ru", "translation_of": "d0",
                     "published": "2019-10-03", "title": "Начало", "body": "Текст"],
                    ["id": "d2", "sequence": 2, "kind": "outcome", "outcome": "bad-news", "no_further_action": true,
                     "language": "en", "published": "2020-07-21", "title": "Upheld", "body": "Body",
                     "quote": ["text": "Thank you", "by": "Someone"]],
                ]]],
        ]],
    ]
}

func parse(_ object: [String: Any]) throws -> VigilBundle {
    try VigilBundle.parse(try JSONSerialization.data(withJSONObject: object))
}

func issues(_ object: [String: Any], existing: ExistingState = .empty) -> [ValidationIssue] {
    let data = try! JSONSerialization.data(withJSONObject: object)
    let d = Diagnostics()
    guard let located = VigilBundle.readLocated(try! JSONValue.parse(data), diagnostics: d) else { return d.issues }
    return d.issues + ReferenceRules.check(
        targets: zip(located.bundle.targets, located.targetPaths).map { .init($0, path: $1) },
        cases: zip(located.bundle.cases, located.casePaths).map { .init(CaseReferences($0), path: $1) }, existing: existing)
}

func mutate(_ change: (inout [String: Any], inout [String: Any], inout [[String: Any]]) -> Void) -> [String: Any] {
    var b = sampleBundleJSON()
    var cases = b["cases"] as! [[String: Any]]
    var c = cases[0]
    var uas = c["urgent_actions"] as! [[String: Any]]
    var ua = uas[0]
    var docs = ua["documents"] as! [[String: Any]]
    change(&c, &ua, &docs)
    ua["documents"] = docs
    uas[0] = ua
    c["urgent_actions"] = uas
    cases[0] = c
    b["cases"] = cases
    return b
}

@Suite("Interchange format")
struct BundleTests {
    @Test func aValidBundleReadsAndWritesBackTheSame() throws {
        let bundle = try parse(sampleBundleJSON())
        #expect(bundle.cases[0].urgentActions[0].documents.count == 3)
        #expect(issues(sampleBundleJSON()).isEmpty)
        let again = try VigilBundle.parse(bundle.json.data())
        #expect(again == bundle)
        #expect(again.json.serialized() == bundle.json.serialized())
    }

    @Test func sentencesHaveThreeForms() throws {
        let d = Diagnostics()
        for (json, expected) in [(#"{"years":7,"months":6}"#, Sentence.Term.years(7, months: 6)),
                                 (#"{"life":true}"#, .life), (#"{"death":true}"#, .death)] {
            let s = Sentence.read(try JSONValue.parse(Data(json.utf8)), path: "$", diagnostics: d)
            #expect(s?.term == expected)
        }
        #expect(d.isEmpty)
        for bad in [#"{"years":0,"months":0}"#, #"{"years":5,"life":true}"#, #"{}"#, #"{"years":120}"#, #"{"months":12}"#, #"{"years":"5"}"#] {
            let d2 = Diagnostics()
            _ = Sentence.read(try JSONValue.parse(Data(bad.utf8)), path: "$", diagnostics: d2)
            #expect(!d2.isEmpty, "\(bad) should be refused")
        }
        #expect(Sentence(term: .years(7, months: 6)).termDescription == "7 years and 6 months")
    }

    @Test func everyProblemIsListedWithItsPath() {
        let b = mutate { c, ua, docs in
            c["colour"] = "red"
            c["countries"] = ["XX"]
            ua["number"] = "126/2019"
            docs[0]["ai_index"] = "EUR 46/1098/19"
            docs[0]["language"] = "EN"
            docs[2]["published"] = "2020-02-30"
        }
        let found = Set(issues(b).map(\.path))
        #expect(found.isSuperset(of: [
            "$.cases[0].colour", "$.cases[0].countries[0]", "$.cases[0].urgent_actions[0].number",
            "$.cases[0].urgent_actions[0].documents[0].ai_index", "$.cases[0].urgent_actions[0].documents[0].language",
            "$.cases[0].urgent_actions[0].documents[2].published",
        ]))
    }

    @Test func wrongTypesAreNamed() {
        let b = mutate { c, _, docs in
            c["title"] = 5
            docs[0]["sequence"] = "0"
            docs[1]["body"] = ["x"]
        }
        let messages = issues(b).map(\.description)
        #expect(messages.contains("$.cases[0].title: must be a string, not a number"))
        #expect(messages.contains("$.cases[0].urgent_actions[0].documents[0].sequence: must be a whole number, not a string"))
        #expect(messages.contains("$.cases[0].urgent_actions[0].documents[1].body: must be a string, not an array"))
    }

    @Test func deadlineMustFollowPublication() {
        let b = mutate { _, _, docs in
            var ta = docs[0]["take_action"] as! [String: Any]
            ta["deadline"] = "2019-10-03"
            docs[0]["take_action"] = ta
        }
        #expect(issues(b).map(\.path) == ["$.cases[0].urgent_actions[0].documents[0].take_action.deadline"])
    }

    @Test func anOutcomeClosesItsUrgentAction() {
        let b = mutate { _, ua, _ in ua["status"] = "open" }
        #expect(issues(b).map(\.path) == ["$.cases[0].urgent_actions[0].status"])
    }

    @Test func nothingComesAfterTheOutcome() {
        let b = mutate { _, _, docs in
            docs.append(["id": "d3", "sequence": 3, "kind": "update", "language": "en", "published": "2020-08-01", "title": "Late", "body": "x"])
        }
        #expect(issues(b).contains { $0.message.contains("nothing comes after the outcome") })
    }

    @Test func sequenceAndLanguageAreUniqueWithinAnUrgentAction() {
        let b = mutate { _, _, docs in
            docs[1]["language"] = "en"
        }
        let found = issues(b)
        #expect(found.contains { $0.message.contains("already has a document with sequence 0 in \"en\"") })
    }

    @Test func translationsShareTheSequenceOfTheirOriginal() {
        let b = mutate { _, _, docs in
            docs[1]["translation_of"] = "d2"
        }
        #expect(issues(b).contains { $0.path.hasSuffix("documents[1].translation_of") && $0.message.contains("shares the sequence") })
        let missing = mutate { _, _, docs in docs[1]["translation_of"] = "nope" }
        #expect(issues(missing).contains { $0.message.contains("\"nope\" is not in this urgent action") })
    }

    @Test func kindsAndSequences() {
        let b = mutate { _, _, docs in
            docs[0]["sequence"] = 1
            docs[2].removeValue(forKey: "outcome")
        }
        let paths = issues(b).map(\.path)
        #expect(paths.contains("$.cases[0].urgent_actions[0].documents[0].sequence"))
        #expect(paths.contains("$.cases[0].urgent_actions[0].documents[2].outcome"))
    }

    @Test func targetsMustExist() {
        let b = mutate { _, _, docs in
            docs[0]["take_action"] = ["targets": [["target": "nobody"]]]
        }
        #expect(issues(b).map(\.description) == [
            "$.cases[0].urgent_actions[0].documents[0].take_action.targets[0].target: target \"nobody\" is not in the bundle or the directory",
        ])
        // A target already in the directory is fine.
        var withoutTargets = b
        withoutTargets["targets"] = []
        #expect(issues(withoutTargets, existing: ExistingState(targetIDs: ["nobody"])).isEmpty)
    }

    @Test func anUrgentActionBelongsToOneCase() {
        let existing = ExistingState(urgentActionCases: [UANumber("126/19")!: "another-case"])
        #expect(issues(sampleBundleJSON(), existing: existing).map(\.path) == ["$.cases[0].urgent_actions[0].number"])
    }

    @Test func storedDocumentsCountForUniqueness() {
        // Storage already holds a different document at sequence 2 in English.
        let existing = ExistingState(documents: [.init(id: "other", uaNumber: UANumber("126/19")!, sequence: 2, language: "en",
                                                       kind: .outcome, translationOf: nil)])
        #expect(issues(sampleBundleJSON(), existing: existing).contains { $0.message.contains("sequence 2 in \"en\"") })
    }

    @Test func aStoredDocumentStaysWithItsAction() {
        // Storage holds "d2" under another action: a bundle may not give it under this one.
        let existing = ExistingState(documents: [
            .init(id: "d2", uaNumber: UANumber("5/20")!, sequence: 0, language: "en", kind: .initial, translationOf: nil),
            .init(id: "d0", uaNumber: UANumber("126/19")!, sequence: 0, language: "en", kind: .initial, translationOf: nil),
        ])
        let found = issues(sampleBundleJSON(), existing: existing)
        #expect(found.count == 1, "\(found)")
        #expect(found.first.map { $0.path.hasSuffix(".id") && $0.description.contains("\"d2\" already belongs to UA 5/20") } == true, "\(found)")
    }

    @Test func timelinePeopleMustBeInTheCase() {
        let b = mutate { c, _, _ in c["timeline"] = [["date": "2016", "kind": "arrest", "people": ["ghost"], "summary": "x"]] }
        #expect(issues(b).map(\.path) == ["$.cases[0].timeline[0].people[0]"])
    }

    @Test func theFormatIsNamed() {
        var b = sampleBundleJSON()
        b["format"] = "vigil.bundle/2"
        #expect(issues(b).map(\.path) == ["$.format"])
        b.removeValue(forKey: "format")
        #expect(issues(b).map(\.description) == ["$.format: is required"])
    }

    @Test func targetsAreChecked() {
        var b = sampleBundleJSON()
        b["targets"] = [["id": "t1", "title": "X", "email": "not-an-address", "web_form": "javascript:alert(1)",
                         "salutation": ["EN": "Dear"], "valid_from": "2020", "valid_to": "2019"]]
        let paths = Set(issues(b).map(\.path))
        #expect(paths.isSuperset(of: ["$.targets[0].email", "$.targets[0].web_form", "$.targets[0].salutation.EN", "$.targets[0].valid_to"]))
    }
}

@Suite("Supporters' records")
struct SupporterTests {
    @Test func supporterAndReports() {
        #expect(Supporter(email: "a@example.org", displayName: "A").problems().isEmpty)
        #expect(Supporter(email: "nope", displayName: " ", country: "ZZ", language: "EN").problems().count == 4)
        #expect(ActionReport(documentID: "d", targetID: nil, channel: .letter, idempotencyKey: "abcdefgh", anonymous: true).problems().isEmpty)
        #expect(!ActionReport(documentID: "d", targetID: nil, channel: .letter, idempotencyKey: "short", anonymous: true).problems().isEmpty)
        #expect(FollowSubject(kind: "country", value: "RU") == .country("RU"))
        #expect(FollowSubject(kind: "country", value: "Russia") == nil)
    }

    @Test func targetsValidity() {
        let t = Target(id: "t", title: "T", salutation: ["en": "Dear Sir", "ru": "Уважаемый"], validFrom: PartialDate("2020"), validTo: PartialDate("2021-06"))
        #expect(t.isValid(on: "2021-06-30"))
        #expect(!t.isValid(on: "2021-07-01"))
        #expect(t.salutation(for: "ru") == "Уважаемый")
        #expect(t.salutation(for: "ar") == "Dear Sir")
    }
}

/// Two optional extensions of `vigil.bundle/1`: a document's `corrections` and a person's
/// `name_original` with `name_original_language`. Bundles without them read and write as before.
@Suite("Interchange format: corrections and original names")
struct BundleExtensionTests {
    static let doc0 = "$.cases[0].urgent_actions[0].documents[0]"
    static let person0 = "$.cases[0].people[0]"

    func withPerson(_ change: (inout [String: Any]) -> Void) -> [String: Any] {
        mutate { c, _, _ in
            var people = c["people"] as! [[String: Any]]
            change(&people[0])
            c["people"] = people
        }
    }

    @Test func aBundleWithoutThemWritesTheSameJSONAsBefore() throws {
        let object = sampleBundleJSON()
        let bundle = try parse(object)
        // Each document and person writes exactly the members it was given: no empty arrays, no nulls.
        let cases = object["cases"] as! [[String: Any]]
        let uas = cases[0]["urgent_actions"] as! [[String: Any]]
        for (i, given) in (uas[0]["documents"] as! [[String: Any]]).enumerated() {
            // (A take-action block writes its lists even when empty, as it always has: compared without it.)
            let expected = try JSONValue.parse(try JSONSerialization.data(withJSONObject: given.filter { $0.key != "take_action" }))
            var written = bundle.cases[0].urgentActions[0].documents[i].json.objectValue!
            written["take_action"] = nil
            #expect(JSONValue.object(written) == expected)
            #expect(bundle.cases[0].urgentActions[0].documents[i].corrections.isEmpty)
        }
        let person = try JSONValue.parse(try JSONSerialization.data(withJSONObject: (cases[0]["people"] as! [[String: Any]])[0]))
        #expect(bundle.cases[0].people[0].json == person)
        #expect(bundle.cases[0].people[0].nameOriginal == nil)
        let text = bundle.json.serialized()
        #expect(!text.contains("corrections") && !text.contains("name_original"))
    }

    @Test func correctionsAreReadOldestFirstAndWrittenBack() throws {
        let b = mutate { _, _, docs in
            docs[0]["corrections"] = [["date": "2019-11-02", "note": "Later"], ["date": "2019-10-03", "note": "On the day"],
                                      ["date": "2019-11-02", "note": "Later, second"]]
        }
        #expect(issues(b).isEmpty, "\(issues(b))")
        let bundle = try parse(b)
        let doc = bundle.cases[0].urgentActions[0].documents[0]
        #expect(doc.corrections.map(\.note) == ["On the day", "Later", "Later, second"], "by date; one day's in the order given")
        #expect(doc.corrections.first?.date == PartialDate("2019-10-03"))
        // Written sorted by date, even when set out of order.
        var unsorted = doc
        unsorted.corrections.reverse()
        #expect(unsorted.json["corrections"]?.arrayValue?.compactMap { $0["date"]?.stringValue } == ["2019-10-03", "2019-11-02", "2019-11-02"])
        #expect(doc.json["corrections"]?.arrayValue?.first == .object(["date": .string("2019-10-03"), "note": .string("On the day")]))
        let again = try VigilBundle.parse(bundle.json.data())
        #expect(again == bundle)
        #expect(again.json.serialized() == bundle.json.serialized())
    }

    @Test func correctionsAreCheckedWithTheirPaths() {
        let b = mutate { _, _, docs in
            docs[0]["corrections"] = [
                ["date": "2019-10-02", "note": "Before publication"],
                ["date": "2019-10", "note": "Month only"],
                ["date": "2019-10-04"],
                ["date": "2019-10-04", "note": " "],
                ["date": "2019-10-04", "note": String(repeating: "a", count: 2001)],
                ["date": "2019-10-04", "note": "Fine", "by": "Someone"],
                "A correction",
                ["note": "No date"],
            ]
            docs[2]["corrections"] = ["date": "2020-07-22", "note": "Not in an array"]
        }
        let p = Self.doc0 + ".corrections"
        let found = issues(b).map(\.description)
        #expect(found.contains("\(p)[0].date: must not be before the publication date (2019-10-03)"))
        #expect(found.contains("\(p)[1].date: must be a full date (YYYY-MM-DD)"))
        #expect(found.contains("\(p)[2].note: is required"))
        #expect(found.contains("\(p)[3].note: must not be empty"))
        #expect(found.contains("\(p)[4].note: is too long (2001 characters; at most 2000)"))
        #expect(found.contains("\(p)[5].by: is not a known field"))
        #expect(found.contains("\(p)[6]: must be an object, not a string"))
        #expect(found.contains("\(p)[7].date: is required"))
        #expect(found.contains("$.cases[0].urgent_actions[0].documents[2].corrections: must be an array, not an object"))
        #expect(found.count == 9, "\(found)")
        // At most 50, and a note of 2000 characters is fine.
        let many = mutate { _, _, docs in docs[0]["corrections"] = Array(repeating: ["date": "2019-10-04", "note": "x"], count: 51) }
        #expect(issues(many).map(\.description) == ["\(p): has too many items (51; at most 50)"])
        let fifty = mutate { _, _, docs in
            docs[0]["corrections"] = Array(repeating: ["date": "2019-10-04", "note": String(repeating: "a", count: 2000)], count: 50)
        }
        #expect(issues(fifty).isEmpty)
    }

    @Test func anOriginalNameIsReadWithItsLanguage() throws {
        let b = withPerson { $0["name_original"] = "Алексей Смирнов"; $0["name_original_language"] = "ru" }
        #expect(issues(b).isEmpty)
        let bundle = try parse(b)
        let p = bundle.cases[0].people[0]
        #expect(p.name == "Someone" && p.nameOriginal == "Алексей Смирнов" && p.nameOriginalLanguage == "ru")
        #expect(p.json["name_original"] == .string("Алексей Смирнов") && p.json["name_original_language"] == .string("ru"))
        #expect(try VigilBundle.parse(bundle.json.data()) == bundle)
        // Seen in a document: the name in its own script is kept on the date's snapshot.
        #expect(bundle.cases[0].asOf(PartialDate("2019-10-03")!).people[0].nameOriginal == "Алексей Смирнов")
    }

    @Test func anOriginalNameIsCheckedWithItsPath() {
        func found(_ change: (inout [String: Any]) -> Void) -> [String] { issues(withPerson(change)).map(\.description) }
        let p = Self.person0
        #expect(found { $0["name_original"] = "Алексей Смирнов" }
                == ["\(p).name_original_language: is required with \"name_original\": the language of the name in its own script"])
        #expect(found { $0["name_original_language"] = "ru" } == ["\(p).name_original_language: is only given with \"name_original\""])
        #expect(found { $0["name_original"] = "Алексей Смирнов"; $0["name_original_language"] = "RU" }
                == ["\(p).name_original_language: write the language tag as \"ru\""])
        #expect(found { $0["name_original"] = "Алексей Смирнов"; $0["name_original_language"] = "russian!" }
                == ["\(p).name_original_language: \"russian!\" is not a BCP 47 language tag (like \"en\", \"ru\", \"zh-Hans\" or \"crh\")"])
        #expect(found { $0["name_original"] = String(repeating: "й", count: 301); $0["name_original_language"] = "ru" }
                == ["\(p).name_original: is too long (301 characters; at most 300)"])
        // At the limit in characters, though more in bytes (two each, or a letter and its accent).
        #expect(found { $0["name_original"] = String(repeating: "й", count: 300); $0["name_original_language"] = "ru" }.isEmpty)
        #expect(found { $0["name_original"] = String(repeating: "e\u{301}", count: 300); $0["name_original_language"] = "fr" }.isEmpty)
        #expect(found { $0["name_original"] = " \u{3000}\n"; $0["name_original_language"] = "ru" } == ["\(p).name_original: must not be empty"])
        #expect(found { $0["name_original"] = 7; $0["name_original_language"] = "ru" }
                == ["\(p).name_original: must be a string, not a number"])
        #expect(found { $0["name_original"] = "نور حسن"; $0["name_original_language"] = "ar" }.isEmpty)
    }
}
