import Foundation
import Vapor

/// Templates and UI strings of the site, found at start.
struct SiteResources: Sendable {
    let views: ViewRenderer
    /// Every catalogue: English for the site, and the languages of supporters' e-mail.
    let catalogue: Catalogue

    /// Finds `Resources/Views` and `Resources/Locales` under the working directory; templates in
    /// `VIGIL_VIEWS` override the built-in ones file by file.
    static func load(app: Application, configuration: VigilConfiguration) throws -> SiteResources {
        let root = app.directory.workingDirectory
        let builtIn = root + "Resources/Views"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: builtIn, isDirectory: &isDir), isDir.boolValue else {
            throw VigilConfiguration.Problem(description: "Cannot find Resources/Views in \(root): run vigil from the project directory (or its installed copy).")
        }
        var dirs = [builtIn]
        if let custom = configuration.viewsDirectory {
            guard FileManager.default.fileExists(atPath: custom, isDirectory: &isDir), isDir.boolValue else {
                throw VigilConfiguration.Problem(description: "VIGIL_VIEWS is \(custom), which is not a directory.")
            }
            dirs.insert(custom, at: 0)
        }
        var catalogue = try Catalogue.load(directory: root + "Resources/Locales")
        if configuration.pseudoLocale { catalogue = catalogue.addingPseudoLocale() }
        let views = ViewRenderer(directories: dirs)
        // Check every page against its model now, so a broken override fails at start, not on a visitor.
        try Pages.check(views: views, strings: catalogue.english)
        Localized.english = catalogue.english
        // The layout and the partials are checked where pages include them.
        return SiteResources(views: views, catalogue: catalogue)
    }
}
