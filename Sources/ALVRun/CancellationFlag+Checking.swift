import ALVEngine
import ALVLifecycle

extension CancellationFlag: CancellationChecking {}
