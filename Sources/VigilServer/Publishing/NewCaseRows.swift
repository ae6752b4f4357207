import Fluent
import Foundation
import VigilCore

/// The rows of new cases an import writes, gathered across cases and written table by table in
/// multi-row statements (`BulkRow`), with their documents' search entries built from the bundle
/// instead of read back. An archive's import is mostly such cases; writing them one case at a
/// time cost about thirty statements and five model reads a case.
///
/// Only for a case none of whose rows is stored: not the case, nor any of its urgent actions or
/// documents (`ContentWriter.importBundle` decides). The rows are the ones `write(case:)` makes
/// for such a case, and so is the summary (a test compares both paths on both databases).
struct NewCaseRows {
    /// The targets the documents may name, by id (for the search entries' target text).
    let targets: [String: TargetModel]
    let documentsPerWrite: Int
    private(set) var cases: [CaseModel] = []
    private(set) var countries: [CaseCountryModel] = []
    private(set) var themes: [CaseThemeModel] = []
    private(set) var people: [PersonModel] = []
    private(set) var timeline: [TimelineEventModel] = []
    private(set) var urgentActions: [UrgentActionModel] = []
    private(set) var documents: [DocumentModel] = []
    private(set) var documentTargets: [DocumentTargetModel] = []
    private(set) var search: [SearchIndex.Entry] = []

    init(targets: [String: TargetModel], documentsPerWrite: Int = 2_000) {
        self.targets = targets
        self.documentsPerWrite = documentsPerWrite
    }

    /// Enough gathered to write: bounds the memory the rows take, whatever the bundle's size.
    var isFull: Bool { documents.count >= documentsPerWrite }

    /// Adds a new case's rows; what writing it changes.
    mutating func add(_ c: Case, time: Date) -> WriteSummary {
        let row = CaseModel()
        row.id = c.id; row.title = c.title; row.summary = c.summary; row.region = c.region; row.status = c.status.rawValue
        row.contentHash = contentHash(c.withoutUrgentActions.json); row.createdAt = time; row.updatedAt = time
        cases.append(row)
        countries += c.countries.enumerated().map { CaseCountryModel(caseID: c.id, position: $0, country: $1) }
        themes += c.themes.enumerated().map { CaseThemeModel(caseID: c.id, position: $0, theme: $1) }
        let personRows = c.people.enumerated().map { i, p in
            let row = PersonModel()
            row.apply(p, caseID: c.id, position: i)
            return row
        }
        people += personRows
        timeline += c.timeline.enumerated().map { i, e in
            let row = TimelineEventModel()
            row.apply(e, caseID: c.id, position: i)
            return row
        }
        let names = SearchIndex.names(of: personRows)
        var summary = WriteSummary(created: 1, changedCases: [c.id])
        for ua in c.urgentActions {
            let u = UrgentActionModel(new: ua, caseID: c.id, time: time)
            urgentActions.append(u)
            summary.changedUrgentActions.insert(u.id!)
            for doc in ua.documents {
                let d = DocumentModel()
                d.apply(doc, urgentActionID: u.id!)
                d.createdAt = time; d.updatedAt = time
                documents.append(d)
                let named = doc.takeAction?.targets ?? []
                documentTargets += named.enumerated().map { DocumentTargetModel(documentID: doc.id, targetID: $1.target, position: $0) }
                search.append(SearchIndex.Entry(document: d, people: names,
                                                targets: SearchIndex.targetText(named.compactMap { targets[$0.target] })))
                summary += WriteSummary(created: 1, createdDocuments: [doc.id], changedDocuments: [doc.id])
            }
        }
        return summary
    }

    /// Writes what was gathered, parents before children, and starts again empty.
    mutating func flush(on db: any Database) async throws {
        try await db.insertBulk(cases)
        try await db.insertBulk(countries)
        try await db.insertBulk(themes)
        try await db.insertBulk(people)
        try await db.insertBulk(timeline)
        try await db.insertBulk(urgentActions)
        try await db.insertBulk(documents)
        try await db.insertBulk(documentTargets)
        try await SearchIndex.write(search, on: db)
        self = NewCaseRows(targets: targets, documentsPerWrite: documentsPerWrite)
    }
}

extension UrgentActionModel {
    /// The row of an urgent action not stored yet: its documents are all it will have, so its
    /// status (an outcome closes it) and deadline in force are decided before it is written.
    convenience init(new ua: UrgentAction, caseID: String, time: Date) {
        self.init()
        id = ua.number.slug; number = ua.number.description; self.caseID = caseID
        status = UrgentAction.status(ua.status, documentKinds: ua.documents.map(\.kind)).rawValue
        let deadline = UrgentAction.deadline(of: ua.documents)
        self.deadline = deadline?.description
        deadlineLast = deadline?.latest
        sortKey = ua.number.sortKey
        createdAt = time; updatedAt = time
    }
}
