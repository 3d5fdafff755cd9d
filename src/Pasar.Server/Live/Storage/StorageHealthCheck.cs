using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Pasar.Server.Live.Storage;

/// <summary>
/// <c>/readyz</c> entry for recordings: local files, or the object store with the upload backlog. A refused
/// credential is Unhealthy (a configuration error, named by its setting); an unreachable store is Degraded, since
/// uploads wait on disk and nothing is lost. Never the store's address or error text (the log has those).
/// </summary>
internal sealed class StorageHealthCheck(RecordingStore store, RecordingUploader uploader) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!store.Enabled)
        {
            return Task.FromResult(HealthCheckResult.Healthy("local files (Pasar:Storage:S3:ServiceUrl is empty)"));
        }

        var backlog = uploader.Backlog;
        return Task.FromResult(store.Problem switch
        {
            null => HealthCheckResult.Healthy($"object store takes recordings; {backlog} files waiting for upload"),
            { } problem when store.CredentialsRefused => HealthCheckResult.Unhealthy($"{problem}; {backlog} files waiting for upload"),
            { } problem => HealthCheckResult.Degraded($"{problem}; {backlog} files waiting for upload"),
        });
    }
}
