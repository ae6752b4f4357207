import Foundation
import VigilCore
@testable import VigilDocuments

/// The demo bundle that ships with the server, read straight from the source tree.
enum Fixtures {
    static let bundle: VigilBundle = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Resources/Data/demo.json")
        return try! VigilBundle.parse(try! Data(contentsOf: url))
    }()

    static func printable(_ documentID: String) -> PrintableDocument {
        for c in bundle.cases {
            for ua in c.urgentActions {
                if let doc = ua.documents.first(where: { $0.id == documentID }) {
                    let ids = doc.takeAction?.targets.map(\.target) ?? []
                    let targets = ids.compactMap { id in bundle.targets.first { $0.id == id } }
                    let copies = (doc.takeAction?.copiesTo ?? []).map { c in
                        [c.text, c.target.flatMap { id in bundle.targets.first { $0.id == id }?.title }].compactMap { $0 }.joined(separator: " — ")
                    }
                    return PrintableDocument(number: ua.number, document: doc, caseTitle: c.title, people: c.people, targets: targets,
                                             copiesTo: copies, url: "https://ua.example.org/urgent-actions/\(ua.number.slug)/\(doc.id)")
                }
            }
        }
        fatalError("no document \(documentID) in the demo bundle")
    }
}
