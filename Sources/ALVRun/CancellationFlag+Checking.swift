import ALVEngine

extension CancellationFlag: CancellationChecking {}
