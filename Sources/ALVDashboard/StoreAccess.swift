import ALVStore
import NIOCore
import NIOPosix

/// The dashboard's one connection to the store, and the one thread that uses it: SQLite reads, writes of
/// posted documents and report rendering run here, never on the event loop, so a slow query or a large
/// report stalls no event stream and no other request. Opened on first use (and again after a failure).
final class StoreAccess: @unchecked Sendable {
    let database: String
    private let pool = NIOThreadPool(numberOfThreads: 1)
    // Touched only on the pool's one thread.
    private var connection: SQLiteDatabase?
    private var metrics: MetricsStore?
    private var documents: Repository?

    init(database: String) {
        self.database = database
        pool.start()
    }

    /// Runs `body` on the store's thread; the future completes on `loop`.
    func run<T: Sendable>(on loop: any EventLoop, _ body: @escaping @Sendable (StoreAccess) throws -> T) -> EventLoopFuture<T> {
        pool.runIfActive(eventLoop: loop) { try body(self) }
    }

    /// The runs' store. Only inside `run`.
    func store() throws -> MetricsStore {
        if let metrics { return metrics }
        let opened = try MetricsStore(database: try sqlite())
        metrics = opened
        return opened
    }

    /// The repository of vectors and profiles. Only inside `run`.
    func repository() throws -> Repository {
        if let documents { return documents }
        let opened = try Repository(database: try sqlite(), builtinDirectory: nil)
        documents = opened
        return opened
    }

    private func sqlite() throws -> SQLiteDatabase {
        if let connection { return connection }
        let opened = try SQLiteDatabase(path: database)
        connection = opened
        return opened
    }

    func shutdown() {
        try? pool.syncShutdownGracefully()
    }
}
