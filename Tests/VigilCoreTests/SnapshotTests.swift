import Foundation
import Testing
@testable import VigilCore

private func day(_ s: String) -> PartialDate { PartialDate(s)! }

/// The demo case of UA 126/19, read from the demo bundle the server ships.
private func demoKukuCase() throws -> Case {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Resources/Data/demo.json")
    let bundle = try VigilBundle.parse(try Data(contentsOf: url))
    let number = UANumber("126/19")!
    return try #require(bundle.cases.first { $0.urgentActions.contains { $0.number == number } })
}

private func demoDocument(_ kase: Case, sequence: Int, language: String = "en") throws -> Document {
    let ua = try #require(kase.urgentActions.first { $0.number == UANumber("126/19")! })
    return try #require(ua.documents.first { $0.sequence == sequence && $0.language == language })
}

/// A one-person case with the given sentences, stored status and timeline.
private func small(status: PersonStatus = .imprisoned, sentences: [Sentence] = [],
                   timeline: [TimelineEvent]) -> Case {
    Case(id: "c", title: "A case", countries: ["RU"],
         people: [Person(id: "p", name: "P", status: status, charges: ["A charge"], sentences: sentences)],
         timeline: timeline)
}

private func event(_ date: String, _ kind: TimelineKind, _ people: [String] = ["p"], _ summary: String = "") -> TimelineEvent {
    TimelineEvent(date: day(date), kind: kind, people: people, summary: summary.isEmpty ? kind.rawValue : summary)
}

@Suite("Cases as they stood on a date")
struct SnapshotTests {
    // MARK: The demo case, UA 126/19

    @Test func theInitialDocumentShowsNoLaterSentencesOrEvents() throws {
        let kase = try demoKukuCase()
        let initial = try demoDocument(kase, sequence: 0)
        #expect(initial.kind == .initial)
        #expect(initial.published == day("2019-10-03"))
        let then = kase.asOf(initial.published)

        #expect(then.people.count == 6)
        for p in then.people {
            #expect(p.sentences.isEmpty, "\(p.id) was not sentenced until 12 November 2019")
            // The timeline's only event by then is the 2016 arrest.
            #expect(p.status == .detained, "\(p.id)")
        }
        #expect(then.timeline.map(\.date) == [day("2016")])
        #expect(then.timeline.map(\.kind) == [.arrest])

        // People keep their names, roles and charges; the rest of the case is unchanged.
        #expect(then.people.map(\.id) == kase.people.map(\.id))
        #expect(then.people.map(\.name) == kase.people.map(\.name))
        #expect(then.people.map(\.role) == kase.people.map(\.role))
        #expect(then.people.map(\.charges) == kase.people.map(\.charges))
        #expect(then.title == kase.title)
        #expect(then.summary == kase.summary)
        #expect(then.countries == kase.countries)
        #expect(then.region == kase.region)
        #expect(then.themes == kase.themes)
        #expect(then.status == kase.status)
        #expect(then.urgentActions == kase.urgentActions)

        // The Russian translation has the same date and so the same snapshot.
        let russian = try demoDocument(kase, sequence: 0, language: "ru")
        #expect(kase.asOf(russian.published) == then)
    }

    @Test func theUpdateShowsTheFirstInstanceSentences() throws {
        let kase = try demoKukuCase()
        let update = try demoDocument(kase, sequence: 1)
        #expect(update.published == day("2019-11-20"))
        let then = kase.asOf(update.published)

        for (p, stored) in zip(then.people, kase.people) {
            #expect(p.sentences.map(\.date) == [day("2019-11-12")], "\(p.id)")
            #expect(p.sentences.map(\.stage) == [.firstInstance], "\(p.id)")
            #expect(p.sentences.first?.term == stored.sentences.first?.term)
            #expect(p.status == .imprisoned, "\(p.id): verdict of 2019-11-12 with a prison term")
        }
        #expect(then.timeline.map(\.kind) == [.arrest, .verdict])
    }

    @Test func theOutcomeShowsTheAppealButNotTheLaterHearing() throws {
        let kase = try demoKukuCase()
        let outcome = try demoDocument(kase, sequence: 2)
        #expect(outcome.kind == .outcome)
        #expect(outcome.published == day("2020-07-21"))
        let then = kase.asOf(outcome.published)

        for (p, stored) in zip(then.people, kase.people) {
            #expect(p.sentences == stored.sentences, "\(p.id): both sentences were known")
            #expect(p.status == .imprisoned, "\(p.id)")
        }
        #expect(then.timeline.map(\.kind) == [.arrest, .verdict, .appeal])
        #expect(!then.timeline.contains { $0.date == day("2021") })
    }

    @Test func afterEverythingTheCaseIsAsStored() throws {
        let kase = try demoKukuCase()
        let later = kase.asOf(day("2030-01-01"))
        #expect(later.timeline == kase.timeline)
        // The timeline and the stored statuses agree: the 2021 "trial" of Emir-Usein Kuku
        // comes after his verdict, so it is a further hearing and he stays imprisoned.
        var disagreements: [String] = []
        for (p, stored) in zip(later.people, kase.people) where p.status != stored.status {
            disagreements.append("\(p.id): stored \(stored.status.rawValue), timeline \(p.status.rawValue)")
        }
        #expect(disagreements.isEmpty)
        #expect(later == kase)

        // A date inside 2021 already counts the year-precision hearing.
        #expect(kase.asOf(day("2021-06-01")).timeline.count == 4)
        #expect(kase.asOf(day("2020-12-31")).timeline.count == 3)
    }

    // MARK: Dates

    @Test func monthAndYearPrecisionCountFromTheirStart() {
        let doc = day("2019-10-03")
        #expect(day("2019-11").startsAfter(doc))
        #expect(day("2019-10-04").startsAfter(doc))
        #expect(day("2020").startsAfter(doc))
        #expect(!day("2019").startsAfter(doc))
        #expect(!day("2019-10").startsAfter(doc))
        #expect(!day("2019-10-03").startsAfter(doc))
        // A document dated only to a month or year reaches to its end.
        #expect(!day("2019-10-31").startsAfter(day("2019-10")))
        #expect(day("2019-11-01").startsAfter(day("2019-10")))
        #expect(!day("2019-12-31").startsAfter(day("2019")))

        let kase = small(sentences: [Sentence(term: .years(5, months: 0), date: day("2019-11")),
                                     Sentence(term: .years(4, months: 0), date: day("2019"))],
                         timeline: [event("2019", .arrest), event("2019-11", .verdict), event("2020", .release)])
        let then = kase.asOf(doc)
        #expect(then.people[0].sentences.map(\.date) == [day("2019")])
        #expect(then.timeline.map(\.kind) == [.arrest])
        #expect(then.people[0].status == .detained)
        // Once November 2019 is past, the verdict and its sentence count; the release does not.
        let december = kase.asOf(day("2019-12-01"))
        #expect(december.people[0].sentences.count == 2)
        #expect(december.people[0].status == .imprisoned)
        #expect(kase.asOf(day("2020-01-01")).people[0].status == .released)
    }

    @Test func undatedSentencesAreKept() {
        let kase = small(sentences: [Sentence(term: .life), Sentence(term: .years(3, months: 6), date: day("2021-02-02"))],
                         timeline: [event("2018-05-01", .arrest), event("2019-03-04", .verdict)])
        let then = kase.asOf(day("2019-06-01"))
        #expect(then.people[0].sentences == [Sentence(term: .life)])
        // The undated life sentence counts for the verdict.
        #expect(then.people[0].status == .imprisoned)
        #expect(kase.asOf(day("2000-01-01")).people[0].sentences == [Sentence(term: .life)])
    }

    @Test func aSameDayEventCounts() {
        let kase = small(sentences: [Sentence(term: .years(8, months: 0), date: day("2019-11-12"))],
                         timeline: [event("2016", .arrest), event("2019-11-12", .verdict)])
        let then = kase.asOf(day("2019-11-12"))
        #expect(then.timeline.count == 2)
        #expect(then.people[0].sentences.count == 1)
        #expect(then.people[0].status == .imprisoned)
        #expect(kase.asOf(day("2019-11-11")).people[0].status == .detained)
    }

    @Test func eventsOnTheSameDateKeepTheirTimelineOrder() {
        let releasedLast = small(timeline: [event("2019-05-05", .arrest), event("2019-05-05", .release)])
        #expect(releasedLast.asOf(day("2019-05-05")).people[0].status == .released)
        let arrestedLast = small(timeline: [event("2019-05-05", .release), event("2019-05-05", .arrest)])
        #expect(arrestedLast.asOf(day("2019-05-05")).people[0].status == .detained)
        // Otherwise events go by date, whatever their order in the timeline; the snapshot's
        // timeline keeps the stored order.
        let unordered = small(timeline: [event("2020-01-01", .release), event("2019-01-01", .arrest)])
        let then = unordered.asOf(day("2020-06-01"))
        #expect(then.people[0].status == .released)
        #expect(then.timeline == unordered.timeline)
    }

    // MARK: People and statuses

    @Test func anEventNamingNobodyConcernsEveryone() {
        let kase = Case(id: "c", title: "A case", countries: ["RU"],
                        people: [Person(id: "a", name: "A", status: .released), Person(id: "b", name: "B", status: .released),
                                 Person(id: "c", name: "C", status: .detained)],
                        timeline: [event("2019-01-01", .arrest, []), event("2020-01-01", .release, ["a", "b"])])
        let early = kase.asOf(day("2019-06-01"))
        #expect(early.people.map(\.status) == [.detained, .detained, .detained])
        let late = kase.asOf(day("2020-06-01"))
        #expect(late.people.map(\.status) == [.released, .released, .detained])
    }

    @Test func eachKindMovesTheStatus() {
        func status(_ timeline: [TimelineEvent], sentences: [Sentence] = [], stored: PersonStatus = .harassed) -> PersonStatus {
            small(status: stored, sentences: sentences, timeline: timeline).asOf(day("2030-01-01")).people[0].status
        }
        let prison = [Sentence(term: .years(2, months: 0), date: day("2019-06-01"))]
        #expect(status([event("2019-01-01", .arrest)]) == .detained)
        #expect(status([event("2019-01-01", .charge)]) == .detained)
        #expect(status([event("2019-01-01", .trial)]) == .onTrial)
        #expect(status([event("2019-06-01", .verdict)]) == .convicted)
        #expect(status([event("2019-06-01", .verdict)], sentences: prison) == .imprisoned)
        #expect(status([event("2019-06-01", .verdict)], sentences: [Sentence(term: .death, date: day("2019-06-01"))]) == .imprisoned)
        #expect(status([event("2019-01-01", .release)]) == .released)
        // Appeals, transfers, health and other events give no status: the stored one stays.
        let quiet: [TimelineEvent] = [event("2019-01-01", .appeal), event("2019-02-01", .transfer),
                                      event("2019-03-01", .health), event("2019-04-01", .other)]
        #expect(status(quiet) == .harassed)
        #expect(status([event("2018-01-01", .arrest)] + quiet) == .detained)
        // A charge does not undo a trial or a verdict; a trial after a verdict is a further hearing.
        #expect(status([event("2018-01-01", .arrest), event("2018-06-01", .trial), event("2018-07-01", .charge)]) == .onTrial)
        #expect(status([event("2018-01-01", .arrest), event("2019-06-01", .verdict), event("2020-01-01", .charge)],
                       sentences: prison) == .imprisoned)
        #expect(status([event("2019-06-01", .verdict), event("2021", .trial)], sentences: prison) == .imprisoned)
        #expect(status([event("2019-06-01", .verdict), event("2021", .trial)]) == .convicted)
        // After a release, a new charge, arrest or trial counts again.
        #expect(status([event("2018-01-01", .arrest), event("2019-01-01", .release), event("2020-01-01", .charge)]) == .detained)
        #expect(status([event("2018-01-01", .arrest), event("2019-01-01", .release), event("2020-01-01", .trial)]) == .onTrial)
        #expect(status([event("2018-01-01", .arrest), event("2019-01-01", .release), event("2020-01-01", .arrest)]) == .detained)
        // A new verdict after a release counts too.
        #expect(status([event("2019-06-01", .verdict), event("2020-01-01", .release), event("2021-01-01", .verdict)],
                       sentences: prison) == .imprisoned)
    }

    @Test func aVerdictImprisonsOnlyOnceASentenceIsKnown() {
        // Sentenced at a later hearing than the verdict.
        let kase = small(sentences: [Sentence(term: .years(6, months: 0), date: day("2019-12-01"))],
                         timeline: [event("2019-11-12", .verdict)])
        #expect(kase.asOf(day("2019-11-20")).people[0].status == .convicted)
        #expect(kase.asOf(day("2019-12-01")).people[0].status == .imprisoned)
    }

    @Test func aStatusTheTimelineGivesOnlyLaterIsNotShownEarlier() {
        // Stored "released"; the only status event is the release, after the date.
        let released = small(status: .released, timeline: [event("2020-03-01", .release)])
        #expect(released.asOf(day("2019-06-01")).people[0].status == .atRisk)
        #expect(released.asOf(day("2020-03-01")).people[0].status == .released)
        // Any later status event makes the stored status unsafe, even one that does not give it.
        let deceased = small(status: .deceased, timeline: [event("2020-03-01", .arrest)])
        #expect(deceased.asOf(day("2019-06-01")).people[0].status == .atRisk)
        // Nothing that gives a status after the date: the stored status stays.
        let exiled = small(status: .inExile, timeline: [event("2019-01-01", .health), event("2021-01-01", .other)])
        #expect(exiled.asOf(day("2019-06-01")).people[0].status == .inExile)
        let none = small(status: .disappeared, timeline: [])
        #expect(none.asOf(day("2019-06-01")).people[0].status == .disappeared)
        // An event naming someone else says nothing about this person.
        let other = small(status: .released, timeline: [event("2020-03-01", .release, ["q"])])
        #expect(other.asOf(day("2019-06-01")).people[0].status == .released)
    }

    @Test func theTimelineWinsOverTheStoredStatus() {
        // Stored "imprisoned" but the timeline ends with a release: the timeline is the record of what happened when.
        let kase = small(status: .imprisoned, timeline: [event("2016", .arrest), event("2020-01-01", .release)])
        #expect(kase.asOf(day("2030-01-01")).people[0].status == .released)
    }
}
