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
        row.apply(c, contentHash: contentHash(c.withoutUrgentActions.json))
        row.createdAt = time; row.updatedAt = time
        cases.append(row)
        let children = CaseChildRows(c)
        countries += children.countries
        themes += children.themes
        people += children.people
        timeline += children.timeline
        let names = SearchIndex.names(of: children.people)
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

    /// Writes what was gathered, parents before children, and starts again empty: into the
    /// tables, or (`staged`) into the connection's staging tables, for the write transaction to
    /// copy in (`ImportStaging`).
    mutating func flush(on db: any Database, staged: Bool = false) async throws {
        func put<M: BulkRow>(_ rows: [M]) async throws {
            try await db.insertBulk(rows, into: staged ? ImportStaging.table(M.schema) : nil)
        }
        try await put(cases)
        try await put(countries)
        try await put(themes)
        try await put(people)
        try await put(timeline)
        try await put(urgentActions)
        try await put(documents)
        try await put(documentTargets)
        if staged { try await ImportStaging.stage(search, on: db) } else { try await SearchIndex.write(search, on: db) }
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
