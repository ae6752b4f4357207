import Foundation
import Testing
@testable import VigilCore

/// Optional extensions of `vigil.bundle/1` for the targets directory: `successor_of`,
/// `represents` and `accredited_to` on a target, `diplomatic_representatives_of` on a copy.
@Suite("Interchange format: successors and diplomatic missions")
struct TargetDirectoryBundleTests {
    static var old: [String: Any] { ["id": "t1", "title": "Prosecutor General", "name": "Old Official", "valid_to": "2020-01-21"] }
    static var new: [String: Any] { ["id": "t2", "title": "Prosecutor General", "name": "New Official",
                                     "successor_of": "t1", "valid_from": "2020-01-22"] }

    func withTargets(_ targets: [[String: Any]]) -> [String: Any] {
        var b = sampleBundleJSON()
        b["targets"] = targets
        return b
    }

    func withCopies(_ copies: [[String: Any]]) -> [String: Any] {
        mutate { _, _, docs in
            var ta = docs[0]["take_action"] as! [String: Any]
            ta["copies_to"] = copies
            docs[0]["take_action"] = ta
        }
    }

    @Test func aSuccessorIsReadAndWrittenBack() throws {
        let b = withTargets([Self.old, Self.new])
        #expect(issues(b).isEmpty)
        let bundle = try parse(b)
        let t2 = try #require(bundle.targets.first { $0.id == "t2" })
        #expect(t2.successorOf == "t1")
        #expect(t2.json["successor_of"] == .string("t1"))
        #expect(try VigilBundle.parse(bundle.json.data()) == bundle)
    }

    @Test func aTargetWithoutTheNewFieldsWritesTheSameJSONAsBefore() throws {
        let given = (sampleBundleJSON()["targets"] as! [[String: Any]])[0]
        let bundle = try parse(sampleBundleJSON())
        let expected = try JSONValue.parse(try JSONSerialization.data(withJSONObject: given))
        #expect(bundle.targets[0].json == expected)
        let text = bundle.json.serialized()
        #expect(!text.contains("successor_of") && !text.contains("represents") && !text.contains("accredited_to")
                && !text.contains("diplomatic_representatives_of"))
    }

    @Test func anUnknownPredecessorIsNamedWithItsPath() {
        var new = Self.new
        new["successor_of"] = "nobody"
        #expect(issues(withTargets([Self.old, new])).map(\.description)
                == ["$.targets[1].successor_of: target \"nobody\" is not in the bundle or the directory"])
        // One already in the directory is fine.
        #expect(issues(withTargets([Self.new]), existing: ExistingState(targetIDs: ["t1"])).isEmpty)
    }

    @Test func aStoredPredecessorCounts() {
        var existing = ExistingState(targetIDs: ["t1"])
        existing.successions = ["t1": .init(id: "t1", successorOf: nil, hasValidTo: true)]
        // The sample's document names t1: the directory has it.
        #expect(issues(withTargets([Self.new]), existing: existing).isEmpty)
        // A stored predecessor still in office (no valid_to) is refused, at the successor's path.
        existing.successions["t1"]?.hasValidTo = false
        #expect(issues(withTargets([Self.new]), existing: existing).map(\.description)
                == ["$.targets[0].successor_of: target \"t1\" was replaced by \"t2\": give the day it left office in valid_to"])
    }

    @Test func aPredecessorHasAValidTo() {
        var old = Self.old
        old.removeValue(forKey: "valid_to")
        #expect(issues(withTargets([old, Self.new])).map(\.description)
                == ["$.targets[0].valid_to: target \"t1\" was replaced by \"t2\": give the day it left office in valid_to"])
        // Giving the predecessor again without its valid_to, once a stored target replaced it, is refused too.
        var existing = ExistingState(targetIDs: ["t1", "t2"])
        existing.successions = ["t2": .init(id: "t2", successorOf: "t1", hasValidTo: false)]
        #expect(issues(withTargets([old]), existing: existing).map(\.description)
                == ["$.targets[0].valid_to: target \"t1\" was replaced by \"t2\": give the day it left office in valid_to"])
    }

    @Test func aCycleIsRefused() {
        var a = Self.old, b = Self.new
        a["successor_of"] = "t2"
        b["valid_to"] = "2021-01-01"
        let found = issues(withTargets([a, b])).map(\.description)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("$.targets[0].successor_of: successor_of makes a cycle: \"t1\" → \"t2\" → \"t1\"") == true)
        // A cycle through the directory: t3 (stored) replaced t2, and the bundle says t1 replaced t3.
        var existing = ExistingState(targetIDs: ["t3"])
        existing.successions = ["t3": .init(id: "t3", successorOf: "t2", hasValidTo: true)]
        var c = Self.old
        c["successor_of"] = "t3"
        let through = issues(withTargets([c, b]), existing: existing).map(\.description)
        #expect(through.contains { $0.hasPrefix("$.targets[0].successor_of: successor_of makes a cycle: \"t1\" → \"t3\" → \"t2\" → \"t1\"") })
        // And a target cannot succeed itself.
        var selfish = Self.old
        selfish["successor_of"] = "t1"
        #expect(issues(withTargets([selfish])).map(\.description) == ["$.targets[0].successor_of: a target cannot succeed itself"])
    }

    @Test func anOfficialHasOneSuccessor() {
        var other = Self.new
        other["id"] = "t3"
        let found = issues(withTargets([Self.old, Self.new, other])).map(\.description)
        #expect(found.contains("$.targets[1].successor_of: target \"t1\" already has a successor, \"t3\""))
        #expect(found.contains("$.targets[2].successor_of: target \"t1\" already has a successor, \"t2\""))
    }

    @Test func aMissionNamesBothCountries() throws {
        let mission: [String: Any] = ["id": "ru-embassy-gb", "title": "Ambassador", "represents": "RU", "accredited_to": "GB"]
        let bundle = try parse(withTargets([Self.old, mission]))
        let m = try #require(bundle.targets.first { $0.id == "ru-embassy-gb" })
        #expect(m.represents == "RU" && m.accreditedTo == "GB" && m.isMission(of: "RU", accreditedTo: "GB"))
        #expect(Set(try VigilBundle.parse(bundle.json.data()).targets) == Set(bundle.targets))
        func found(_ change: (inout [String: Any]) -> Void) -> [String] {
            var m = mission
            change(&m)
            return issues(withTargets([Self.old, m])).map(\.description)
        }
        #expect(found { $0.removeValue(forKey: "accredited_to") }
                == ["$.targets[1].accredited_to: a diplomatic mission gives both represents and accredited_to"])
        #expect(found { $0.removeValue(forKey: "represents") }
                == ["$.targets[1].represents: a diplomatic mission gives both represents and accredited_to"])
        #expect(found { $0["accredited_to"] = "gb" } == ["$.targets[1].accredited_to: must be upper case: \"GB\""])
        #expect(found { $0["represents"] = "ZZ" } == ["$.targets[1].represents: \"ZZ\" is not an ISO 3166-1 alpha-2 country code"])
        #expect(found { $0["accredited_to"] = "RU" }
                == ["$.targets[1].accredited_to: a mission is accredited to another country than the one it represents"])
    }

    @Test func aCopyToADiplomaticMissionIsReadAndChecked() throws {
        let copy: [String: Any] = ["text": "Diplomatic representatives of the Russian Federation accredited to your country",
                                   "diplomatic_representatives_of": "RU"]
        let b = withCopies([copy])
        #expect(issues(b).isEmpty)
        let bundle = try parse(b)
        let c = try #require(bundle.cases[0].urgentActions[0].documents[0].takeAction?.copiesTo.first)
        #expect(c.diplomaticRepresentativesOf == "RU" && c.target == nil)
        #expect(c.json["diplomatic_representatives_of"] == .string("RU") && c.json["target"] == nil)
        #expect(try VigilBundle.parse(bundle.json.data()) == bundle)
        let p = "$.cases[0].urgent_actions[0].documents[0].take_action.copies_to[0]"
        #expect(issues(withCopies([["diplomatic_representatives_of": "RU"]])).map(\.description)
                == ["\(p).text: is required with diplomatic_representatives_of"])
        #expect(issues(withCopies([["text": "x", "diplomatic_representatives_of": "Russia"]])).map(\.description)
                == ["\(p).diplomatic_representatives_of: \"Russia\" is not an ISO 3166-1 alpha-2 country code"])
        #expect(issues(withCopies([["text": "x", "target": "t1", "diplomatic_representatives_of": "RU"]])).map(\.description)
                == ["\(p).diplomatic_representatives_of: name either one target or the diplomatic representatives of a country, not both"])
        #expect(issues(withCopies([[:]])).map(\.description)
                == ["\(p): give \"text\", \"target\" or \"diplomatic_representatives_of\""])
    }
}
