using Microsoft.Extensions.Options;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Social;

/// <summary>Forgets counted share clicks after <see cref="RetentionOptions.ShareClickDays"/> (they only dedupe clicks within 24 h).</summary>
internal sealed class ShareClickRetention(Database database, IOptions<RetentionOptions> options) : IRetentionTask
{
    public Task<long> PruneAsync(DateTimeOffset now, CancellationToken ct) =>
        RetentionJob.DeleteInChunksAsync(database,
            """
            DELETE FROM share_clicks WHERE (tracking_code, visitor_id) IN (
                SELECT tracking_code, visitor_id FROM share_clicks WHERE counted_at < @cutoff LIMIT @chunk)
            """, now.AddDays(-options.Value.ShareClickDays).ToUnixTimeMilliseconds(), ct);
}
