// swift-tools-version:6.0
import PackageDescription

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "vigil",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "vigil", targets: ["vigil"]),
        .library(name: "VigilCore", targets: ["VigilCore"]),
        .library(name: "VigilDocuments", targets: ["VigilDocuments"]),
        .library(name: "VigilServer", targets: ["VigilServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/vapor.git", from: "4.122.3"),
        .package(url: "https://github.com/vapor/fluent.git", from: "4.13.0"),
        .package(url: "https://github.com/vapor/fluent-kit.git", from: "1.57.0"),
        .package(url: "https://github.com/vapor/fluent-sqlite-driver.git", from: "4.9.0"),
        .package(url: "https://github.com/vapor/fluent-postgres-driver.git", from: "2.14.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .target(name: "VigilCore", dependencies: ["CCmark"], swiftSettings: swift6),
        .systemLibrary(
            name: "CCmark",
            pkgConfig: "libcmark",
            providers: [.apt(["libcmark-dev"])]
        ),
        .systemLibrary(
            name: "CPangoCairo",
            pkgConfig: "pangocairo",
            providers: [.apt(["libpango1.0-dev", "libcairo2-dev"])]
        ),
        // glibc's malloc controls (`Heap`): a header of the C library, nothing to install.
        .systemLibrary(name: "CGlibcMalloc"),
        // Swift concurrency's enqueue hook (`ConcurrencyOnEventLoops`): a header, nothing to install.
        .systemLibrary(name: "CSwiftConcurrencyHook"),
        .target(
            name: "VigilDocuments",
            dependencies: ["VigilCore", "CPangoCairo", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: swift6
        ),
        .target(
            name: "VigilServer",
            dependencies: [
                "VigilCore",
                "VigilDocuments",
                "CGlibcMalloc",
                "CSwiftConcurrencyHook",
                .product(name: "Vapor", package: "vapor"),
                .product(name: "Fluent", package: "fluent"),
                .product(name: "FluentKit", package: "fluent-kit"),
                .product(name: "FluentSQLiteDriver", package: "fluent-sqlite-driver"),
                .product(name: "FluentPostgresDriver", package: "fluent-postgres-driver"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swift6
        ),
        .executableTarget(
            name: "vigil",
            dependencies: ["VigilServer"],
            swiftSettings: swift6
        ),
        .testTarget(name: "VigilCoreTests", dependencies: ["VigilCore"], swiftSettings: swift6),
        .testTarget(name: "VigilDocumentsTests", dependencies: ["VigilDocuments"], swiftSettings: swift6),
        .testTarget(
            name: "VigilServerTests",
            dependencies: [
                "VigilServer",
                .product(name: "VaporTesting", package: "vapor"),
            ],
            swiftSettings: swift6
        ),
    ]
)
