import Foundation
import Testing
@testable import VigilCore

@Suite struct StandingTests {
    func doc(_ sequence: Int, _ deadline: String?, translation: Bool = false) -> Document {
        Document(id: "ua-1-26-\(sequence)-\(translation ? "fr" : "en")", sequence: sequence, kind: sequence == 0 ? .initial : .update,
                 language: translation ? "fr" : "en", translationOf: translation ? "ua-1-26-\(sequence)-en" : nil,
                 published: PartialDate("2026-01-0\(sequence + 1)")!, title: "T", body: "B",
                 takeAction: TakeAction(deadline: deadline.flatMap(PartialDate.init)))
    }

    @Test func aDeadlineEndsAtTheEndOfItsLastDay() {
        func s(_ deadline: String?, _ today: String, _ status: UrgentActionStatus = .open) -> ActionStanding {
            ActionStanding.of(status: status, deadline: deadline.flatMap(PartialDate.init), today: today)
        }
        #expect(s("2026-11-30", "2026-11-30") == .open, "the last day is still open")
        #expect(s("2026-11-30", "2026-12-01") == .deadlinePassed)
        #expect(s("2026-11", "2026-11-30") == .open, "a month deadline runs to the end of the month")
        #expect(s("2026-11", "2026-12-01") == .deadlinePassed)
        #expect(s("2026-02", "2026-02-28") == .open)
        #expect(s("2024-02", "2024-02-29") == .open, "leap year")
        #expect(s("2026", "2026-12-31") == .open, "a year deadline runs to the end of the year")
        #expect(s("2026", "2027-01-01") == .deadlinePassed)
        #expect(s(nil, "2099-01-01") == .open, "without a deadline, open until closed")
        #expect(s("2099-01-01", "2026-01-01", .closed) == .closed, "closed wins over any deadline")
        #expect(ActionStanding.open.isActionable && !ActionStanding.deadlinePassed.isActionable && !ActionStanding.closed.isActionable)
    }

    @Test func anUpdatesDeadlineReplacesTheEarlierOne() {
        #expect(UrgentAction.deadline(of: [doc(0, "2026-01-10"), doc(1, "2026-03-01")])?.description == "2026-03-01")
        // Later but shorter: the update's still wins (it is the newest word).
        #expect(UrgentAction.deadline(of: [doc(0, "2026-05-10"), doc(1, "2026-03-01")])?.description == "2026-03-01")
        // An update without a deadline leaves the earlier one in force.
        #expect(UrgentAction.deadline(of: [doc(0, "2026-01-10"), doc(1, nil)])?.description == "2026-01-10")
        // Order of the array does not matter; translations are not read.
        #expect(UrgentAction.deadline(of: [doc(1, "2026-03-01"), doc(0, "2026-01-10"), doc(1, "2030-01-01", translation: true)])?.description == "2026-03-01")
        #expect(UrgentAction.deadline(of: [doc(0, nil)]) == nil)
    }

    @Test func todayIsTheOrganisationsDate() {
        // 23:30 UTC on 30 November is already 1 December in Tokyo, still 30 November in Bogotá.
        let instant = ISO8601DateFormatter().date(from: "2026-11-30T23:30:00Z")!
        #expect(ActionClock().today(instant) == "2026-11-30")
        #expect(ActionClock(timeZone: ActionClock.zone(named: "Asia/Tokyo")!).today(instant) == "2026-12-01")
        #expect(ActionClock(timeZone: ActionClock.zone(named: "America/Bogota")!).today(instant) == "2026-11-30")
        #expect(ActionClock.zone(named: "Mars/Olympus") == nil)
        #expect(ActionClock.zone(named: "") == nil)
        #expect(ActionClock(fixedToday: "2026-01-02").today(instant) == "2026-01-02")
    }
}
