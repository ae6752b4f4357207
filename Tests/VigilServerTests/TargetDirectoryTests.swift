import Fluent
import Foundation
import Testing
import VaporTesting
@testable import VigilCore
@testable import VigilServer

/// The targets directory: an official replaced by a successor (documents keep whom they
/// addressed; an open action's page and letters go to whoever holds the office today) and "the
/// diplomatic representatives of X accredited to your country" resolved to the embassy of the
/// reader's country. On both databases.
@Suite("Targets directory")
struct TargetDirectoryTests {
    /// The demo's prosecutor general, who left office on 21 January 2020, and their successor.
    static func replacement() throws -> [Target] {
        var old = try #require(try demoBundle().targets.first { $0.id == "ru-prosecutor-general" })
        old.validTo = PartialDate("2020-01-21")
        let new = Target(id: "ru-prosecutor-general-2020", title: "Prosecutor General", name: "Igor Krasnov",
                         organisation: "Prosecutor General's Office of the Russian Federation", address: ["[Example]", "Moscow"],
                         country: "RU", email: "krasnov@example.org", salutation: ["en": "Dear Prosecutor General Krasnov"],
                         languages: ["ru"], validFrom: PartialDate("2020-01-22"), successorOf: "ru-prosecutor-general")
        return [old, new]
    }

    static let note = "Since 22 January 2020, Prosecutor General, Igor Krasnov holds this office: write to them."

    /// The take-action block of a page.
    static func takeAction(_ page: String) -> String {
        guard let start = page.range(of: "<section aria-labelledby=\"take-action-heading\""),
              let end = page.range(of: "</section>", range: start.upperBound..<page.endIndex) else { return "" }
        return String(page[start.lowerBound..<end.upperBound])
    }

    /// Every non-void element that is opened is closed, in order (the page stays well formed).
    static func balanced(_ html: String) -> Bool {
        let void: Set<String> = ["br", "input", "meta", "link", "img", "hr", "source", "wbr"]
        var stack: [String] = []
        let tag = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(\/?)>/
        for m in html.matches(of: tag) {
            let name = String(m.output.2).lowercased()
            if void.contains(name) || m.output.3 == "/" { continue }
            if m.output.1 == "/" {
                guard stack.last == name else { return false }
                stack.removeLast()
            } else {
                stack.append(name)
            }
        }
        return stack.isEmpty
    }

    @Test(arguments: TestStorage.available)
    func anOpenActionAddressesTheSuccessorAndAClosedOneTheOfficialOfTheTime(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemoWith126Open(app)
            let path = "/urgent-actions/126-19/initial"
            // Seen once before the change, so that the cached page must be dropped by it.
            let before = try await html(app, path).body
            #expect(!before.contains("holds this office") && before.contains("mailto:prosecutor-general@example.org"))
            // A letter made before the change too: what letters read of the action is kept, and a
            // new successor must drop it.
            let earlier = try await LetterLanguageTests.post(app, path + "/letter", ["format": "docx", "language": "en"])
            #expect(earlier.status == .ok)
            #expect(earlier.headers.first(name: "Content-Disposition")?.contains("-ru-prosecutor-general-en.docx") == true)
            try await publish(app, VigilBundle(targets: try Self.replacement()))

            let page = try await html(app, path).body
            let block = Self.takeAction(page)
            #expect(block.contains("Addressed at the time: Prosecutor General"))
            #expect(block.contains(Self.note))
            // The contact details, the e-mail link and the letter builder address the successor.
            #expect(block.contains("<br>Igor Krasnov") && block.contains("mailto:krasnov@example.org"))
            #expect(!block.contains("mailto:prosecutor-general@example.org"))
            #expect(block.contains("Dear Prosecutor General Krasnov"))
            let form = try LetterLanguageTests.letterForm(page)
            #expect(form.contains("<option value=\"ru-prosecutor-general-2020\">\u{2068}Prosecutor General\u{2069} (letter in Russian)</option>"))
            #expect(!form.contains("value=\"ru-prosecutor-general\""))
            #expect(Self.balanced(block))

            // The letter goes to the successor, whether the form names them or (from before) the official replaced.
            for target in ["ru-prosecutor-general-2020", "ru-prosecutor-general"] {
                let res = try await LetterLanguageTests.post(app, path + "/letter", ["target": target, "format": "docx", "language": "en"])
                #expect(res.status == .ok)
                #expect(res.headers.first(name: "Content-Disposition")?.contains("ru-prosecutor-general-2020") == true)
                let xml = try LetterLanguageTests.documentXML(res)
                #expect(xml.contains("Igor Krasnov") && xml.contains("Dear Prosecutor General Krasnov"))
            }
            // The successor's own details change: the next letter has them.
            var successor = try Self.replacement()[1]
            successor.salutation = ["en": "Dear Acting Prosecutor General Krasnov"]
            try await publish(app, VigilBundle(targets: [successor]))
            let again = try await LetterLanguageTests.post(app, path + "/letter", ["target": "ru-prosecutor-general-2020", "format": "docx", "language": "en"])
            #expect(try LetterLanguageTests.documentXML(again).contains("Dear Acting Prosecutor General Krasnov"))
            // Someone the document does not address is refused, even an official in the directory.
            let other = try await LetterLanguageTests.post(app, path + "/letter", ["target": "ru-supreme-court-chair"])
            #expect(other.status == .badRequest)

            // The document itself is a snapshot: its PDF and Word file name the official of the time.
            let data = try #require(try await DocumentData.load(id: "ua-126-19-0-en", on: app.db))
            #expect(data.targets.map(\.id) == ["ru-prosecutor-general"])
            #expect(data.printable(baseURL: "", catalogue: app.vigilServices.catalogue).targets.map(\.id) == ["ru-prosecutor-general"])
            #expect(data.successor(of: data.targets[0], today: testToday)?.id == "ru-prosecutor-general-2020")
            // On the day before they left office, the official was still the one to write to.
            #expect(data.successor(of: data.targets[0], today: "2020-01-21") == nil)
            // And the successor is replaced in turn: letters follow the chain to whoever holds the office now.
            successor.validTo = PartialDate("2024-06-30")
            let third = Target(id: "ru-prosecutor-general-2024", title: "Prosecutor General", name: "Anna Petrova",
                               organisation: "Prosecutor General's Office of the Russian Federation", address: ["[Example]", "Moscow"],
                               country: "RU", salutation: ["en": "Dear Prosecutor General Petrova"], languages: ["ru"],
                               validFrom: PartialDate("2024-07-01"), successorOf: "ru-prosecutor-general-2020")
            try await publish(app, VigilBundle(targets: [successor, third]))
            let third1 = try await LetterLanguageTests.post(app, path + "/letter", ["target": "ru-prosecutor-general", "format": "docx", "language": "en"])
            #expect(third1.headers.first(name: "Content-Disposition")?.contains("ru-prosecutor-general-2024") == true)
            #expect(try LetterLanguageTests.documentXML(third1).contains("Dear Prosecutor General Petrova"))
        }
    }

    @Test(arguments: TestStorage.available)
    func aClosedActionShowsOnlyTheOfficialOfTheTime(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            try await publish(app, VigilBundle(targets: try Self.replacement()))
            let page = try await html(app, "/urgent-actions/126-19/initial")
            #expect(page.status == .ok)
            #expect(!page.body.contains("holds this office") && !page.body.contains("Igor Krasnov"))
            #expect(Self.takeAction(page.body).isEmpty)
            // No letter for a closed action, to anyone.
            let res = try await LetterLanguageTests.post(app, "/urgent-actions/126-19/initial/letter", ["target": "ru-prosecutor-general-2020"])
            #expect(res.status == .gone)
            let data = try #require(try await DocumentData.load(id: "ua-126-19-0-en", on: app.db))
            #expect(data.printable(baseURL: "", catalogue: app.vigilServices.catalogue).targets.map(\.name) == [nil])
        }
    }

    @Test(arguments: TestStorage.available)
    func successorsAreCheckedWhenWrittenThroughTheAPI(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let headers = try await editorHeaders(app)
            // An unknown predecessor.
            let unknown = try await send(app, .POST, "/api/v1/targets", headers: headers,
                                         json: #"{"id": "new-official", "title": "Prosecutor General", "successor_of": "nobody"}"#)
            #expect(unknown.status == .unprocessableEntity)
            #expect(String(buffer: unknown.body).contains("$.successor_of"))
            // A predecessor still in office (no valid_to).
            let inOffice = try await send(app, .POST, "/api/v1/targets", headers: headers,
                                          json: #"{"id": "new-official", "title": "Prosecutor General", "successor_of": "ru-prosecutor-general"}"#)
            #expect(inOffice.status == .unprocessableEntity)
            #expect(String(buffer: inOffice.body).contains("give the day it left office in valid_to"))
            #expect(try await TargetModel.find("new-official", on: app.db) == nil)
            // With the predecessor's valid_to, it is stored with its successor_of, and read back.
            try await publish(app, VigilBundle(targets: try Self.replacement()))
            let stored = try #require(try await Store(db: app.db).target(id: "ru-prosecutor-general-2020"))
            #expect(stored.successorOf == "ru-prosecutor-general")
            // A cycle through the directory is refused: the old official cannot succeed the new one.
            var old = try Self.replacement()[0]
            old.successorOf = "ru-prosecutor-general-2020"
            let cycle = try await send(app, .PUT, "/api/v1/targets/ru-prosecutor-general", headers: headers,
                                       json: old.json.serialized(pretty: false))
            #expect(cycle.status == .unprocessableEntity)
            #expect(String(buffer: cycle.body).contains("makes a cycle"))
            // The predecessor cannot lose its valid_to while replaced.
            var reopened = try Self.replacement()[0]
            reopened.validTo = nil
            let lost = try await send(app, .PUT, "/api/v1/targets/ru-prosecutor-general", headers: headers,
                                      json: reopened.json.serialized(pretty: false))
            #expect(lost.status == .unprocessableEntity)
            // Anonymous writes are refused as before.
            let anonymous = try await send(app, .POST, "/api/v1/targets",
                                           json: #"{"id": "x-official", "title": "X", "successor_of": "ru-prosecutor-general"}"#)
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test(arguments: TestStorage.available)
    func aCaseExportCarriesTheSuccessorsAndMissionsItNeeds(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            try await publish(app, VigilBundle(targets: try Self.replacement()))
            let bundle = try await Store(db: app.db).export(caseIDs: ["crimean-tatar-defenders-kuku"])
            let ids = Set(bundle.targets.map(\.id))
            #expect(ids.isSuperset(of: ["ru-prosecutor-general", "ru-prosecutor-general-2020", "ru-embassy-example", "ru-embassy-example-de"]))
            #expect(!ids.contains("eg-public-prosecutor"))
            // It imports on its own, into an empty directory.
            try await withApp(storage) { other in
                try await publish(other, bundle)
                #expect(try await Store(db: other.db).target(id: "ru-prosecutor-general-2020")?.successorOf == "ru-prosecutor-general")
            }
        }
    }

    @Test(arguments: TestStorage.available)
    func aTargetWithoutTheNewFieldsKeepsItsHash(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemo(app)
            let row = try #require(try await TargetModel.find("ru-prosecutor-general", on: app.db))
            #expect(row.successorOf == nil && row.represents == nil && row.accreditedTo == nil)
            let target = row.domain
            #expect(!target.json.serialized(pretty: false).contains("successor_of"))
            #expect(row.contentHash == contentHash(target.json))
            // Re-importing the demo writes nothing.
            let again = try await publish(app, try demoBundle())
            #expect(again.summary.changedTargets.isEmpty)
            // A mission keeps its countries.
            let mission = try #require(try await TargetModel.find("ru-embassy-example", on: app.db))
            #expect(mission.represents == "RU" && mission.accreditedTo == "GB")
        }
    }

    @Test(arguments: TestStorage.available)
    func theEmbassyOfTheReadersCountryIsShownAmongTheCopies(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            try await loadDemoWith126Open(app)
            let text = "Diplomatic representatives of the Russian Federation accredited to your country"
            // No country chosen: the text, a sentence, and the choice of the countries the directory has embassies in.
            let plain = Self.takeAction(try await html(app, "/urgent-actions/126-19/initial").body)
            #expect(plain.contains(text))
            #expect(plain.contains("Choose your country below to see the address of the embassy of Russia there."))
            #expect(plain.contains("<form class=\"country-form\" method=\"get\" action=\"/en/urgent-actions/126-19/initial#copies-to-heading\""))
            #expect(plain.contains("<option value=\"DE\">Germany</option>") && plain.contains("<option value=\"GB\">United Kingdom</option>"))
            #expect(!plain.contains("embassy@example.org"))
            #expect(Self.balanced(plain))

            // The United Kingdom: the embassy there, with its address, e-mail and salutation.
            let gb = Self.takeAction(try await html(app, "/urgent-actions/126-19/initial?country=GB").body)
            #expect(gb.contains("Embassy of the Russian Federation (example)") && gb.contains("<br>London"))
            #expect(gb.contains("mailto:embassy@example.org") && gb.contains("Your Excellency"))
            #expect(!gb.contains(text))
            #expect(gb.contains("<option value=\"GB\" selected>United Kingdom</option>"))
            #expect(Self.balanced(gb))
            // Germany, on the Russian translation: the salutation falls back to the mission's English one.
            let de = Self.takeAction(try await html(app, "/urgent-actions/126-19/initial/ru?country=DE").body)
            #expect(de.contains("Embassy of the Russian Federation in Germany (example)") && de.contains("embassy-de@example.org"))
            #expect(!de.contains("Дипломатическим представителям"))

            // A country without one: the text stays, with a sentence to look it up.
            let fr = Self.takeAction(try await html(app, "/urgent-actions/126-19/initial?country=FR").body)
            #expect(fr.contains(text) && fr.contains("We have no address for the embassy of Russia in your country (France): please look it up."))
            #expect(!fr.contains("embassy@example.org"))
            // A mission that has left (valid_to past) is not offered; a new one shows at once (the cached page is dropped).
            let closed = Target(id: "ru-embassy-fr", title: "Ambassador", organisation: "Embassy in France (example)",
                                validTo: PartialDate("2020-01-01"), represents: "RU", accreditedTo: "FR")
            try await publish(app, VigilBundle(targets: [closed]))
            #expect(Self.takeAction(try await html(app, "/urgent-actions/126-19/initial?country=FR").body).contains("We have no address"))
            var open = closed
            open.validTo = nil
            try await publish(app, VigilBundle(targets: [open]))
            #expect(Self.takeAction(try await html(app, "/urgent-actions/126-19/initial?country=FR").body).contains("Embassy in France (example)"))

            // Anything but a country code is ignored: no error, no echo, no mission.
            for junk in ["zz", "gb", "%3Cscript%3E", "GBR", ""] {
                let res = try await html(app, "/urgent-actions/126-19/initial?country=\(junk)")
                #expect(res.status == .ok)
                #expect(!res.body.contains("<script>") && !res.body.contains("embassy@example.org"))
                #expect(Self.takeAction(res.body).contains("Choose your country below"))
            }
            // The public page stays the same for everyone: the canonical address carries no country.
            let withCountry = try await html(app, "/urgent-actions/126-19/initial?country=GB").body
            #expect(withCountry.contains(/<link rel="canonical" href="[^"?]*\/urgent-actions\/126-19\/initial">/))
        }
    }

    @Test(arguments: TestStorage.available)
    func withoutAnyEmbassyTheReaderIsAskedToLookItUp(storage: TestStorage) async throws {
        try await withApp(storage) { app in
            var bundle = try demoBundle()
            bundle.targets.removeAll { $0.represents != nil }
            let c = bundle.cases.firstIndex { $0.id == "crimean-tatar-defenders-kuku" }!
            bundle.cases[c].urgentActions[0].status = .open
            bundle.cases[c].urgentActions[0].documents = bundle.cases[c].urgentActions[0].documents.filter { $0.kind != .outcome }.map { d in
                var d = d
                if d.sequence == 0 { d.takeAction?.deadline = PartialDate("2026-12-14") } else { d.takeAction = nil }
                return d
            }
            try await publish(app, bundle)
            let block = Self.takeAction(try await html(app, "/urgent-actions/126-19/initial?country=GB").body)
            #expect(block.contains("Diplomatic representatives of the Russian Federation accredited to your country"))
            #expect(block.contains("We have no address for the embassy of Russia in your country (United Kingdom): please look it up."))
            let plain = Self.takeAction(try await html(app, "/urgent-actions/126-19/initial").body)
            #expect(plain.contains("Look up the address of the embassy of Russia in your country to send them a copy."))
            #expect(!plain.contains("country-form"))
        }
    }
}
