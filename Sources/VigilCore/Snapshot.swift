import Foundation

// Documents are snapshots in time: an urgent action dated 3 October 2019 shows its people as
// they were on that day, not with the sentences handed down a month later.

extension PartialDate {
    /// Whether this date's period starts after `other`'s period ends: `2019-11` and
    /// `2019-11-12` start after `2019-10-03`, but `2019` does not (it may mean a day before it).
    /// Neither date's precision is guessed: each counts from the start of its month or year.
    public func startsAfter(_ other: PartialDate) -> Bool {
        earliest > other.latest
    }
}

extension TimelineKind {
    /// Whether an event of this kind changes a person's status (see `Person.status(asOf:in:)`).
    /// Appeals, transfers, health and other events do not.
    public var givesStatus: Bool {
        switch self {
        case .arrest, .charge, .trial, .verdict, .release: return true
        case .appeal, .transfer, .health, .other: return false
        }
    }
}

extension TimelineEvent {
    /// Whether the event concerns a person: it names them, or it names nobody (then it
    /// concerns all the case's people).
    public func concerns(_ personID: String) -> Bool {
        people.isEmpty || people.contains(personID)
    }
}

extension Person {
    /// The sentences known on `date`: those dated no later than it (`startsAfter`), and
    /// the undated ones (we cannot tell when they were given, so they are kept).
    public func sentences(asOf date: PartialDate) -> [Sentence] {
        sentences.filter { s in
            guard let d = s.date else { return true }
            return !d.startsAfter(date)
        }
    }

    /// The person's status on `date`, read from the case's timeline.
    ///
    /// The events that count are those that concern the person (they name them, or name
    /// nobody) and do not start after `date`, taken in date order (events with the same date
    /// in their timeline order). Each kind that implies a status moves the status along:
    ///
    /// - `arrest` → detained;
    /// - `charge` → detained, unless the person is already detained, on trial, convicted
    ///   or imprisoned by an earlier event (a new charge does not undo a trial or a verdict);
    /// - `trial` → on trial, unless the person is already convicted or imprisoned by an
    ///   earlier verdict (a hearing after a verdict is an appeal or cassation hearing: the
    ///   person stays convicted or imprisoned until a new verdict or a release);
    /// - `verdict` → imprisoned if the person has a sentence known on `date` (a prison term,
    ///   life or death; see `sentences(asOf:)`), else convicted;
    /// - `release` → released;
    /// - `appeal`, `transfer`, `health`, `other` → no change.
    ///
    /// When none of those events gives a status by `date`:
    ///
    /// - if the timeline gives the person a status after `date`, the stored status may be the
    ///   outcome of those later events, so it cannot be shown; the status is `atRisk`, which
    ///   claims nothing about custody (it is what every person in an urgent action is);
    /// - otherwise nothing in the timeline changed the person's status after `date`, so the
    ///   stored status is kept (it is also kept for statuses the timeline cannot express:
    ///   disappeared, deceased, house arrest, harassed, in exile, when no event gives one).
    ///
    /// When the timeline does give a status by `date` it wins over the stored status, even
    /// for a date after the whole timeline: the timeline is the record of what happened when.
    public func status(asOf date: PartialDate, in timeline: [TimelineEvent]) -> PersonStatus {
        let relevant = timeline.enumerated()
            .filter { $0.element.kind.givesStatus && $0.element.concerns(id) }
        let known = relevant.filter { !$0.element.date.startsAfter(date) }
            .sorted { a, b in
                a.element.date != b.element.date ? a.element.date < b.element.date : a.offset < b.offset
            }
            .map(\.element)
        var status: PersonStatus?
        for event in known {
            switch event.kind {
            case .arrest:
                status = .detained
            case .charge:
                if ![.detained, .onTrial, .convicted, .imprisoned].contains(status) { status = .detained }
            case .trial:
                if ![.convicted, .imprisoned].contains(status) { status = .onTrial }
            case .verdict:
                status = sentences(asOf: date).isEmpty ? .convicted : .imprisoned
            case .release:
                status = .released
            case .appeal, .transfer, .health, .other:
                break
            }
        }
        if let status { return status }
        return relevant.count > known.count ? .atRisk : self.status
    }

    /// The person as they were on `date`: the sentences known then and the status the
    /// timeline gives then (`status(asOf:in:)`). Name, pronouns, role and charges are kept
    /// as stored (charges carry no dates).
    public func asOf(_ date: PartialDate, in timeline: [TimelineEvent]) -> Person {
        var p = self
        p.status = status(asOf: date, in: timeline)
        p.sentences = sentences(asOf: date)
        return p
    }
}

extension Case {
    /// The case as it stood on `date` (a document's publication date), for showing in that
    /// document: timeline events that start after `date` are removed (the others keep their
    /// order), and each person has only the sentences known on `date` and the status the
    /// timeline gives on `date` (see `Person.status(asOf:in:)`). Everything else — title,
    /// summary, countries, themes, status, urgent actions and their documents — is unchanged.
    public func asOf(_ date: PartialDate) -> Case {
        var c = self
        c.people = people.map { $0.asOf(date, in: timeline) }
        c.timeline = timeline.filter { !$0.date.startsAfter(date) }
        return c
    }
}
