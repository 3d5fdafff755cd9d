using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Live.Storage;

/// <summary>What <c>storage upload-replays</c> did: replays moved, files and bytes uploaded, replays already in the store, failures.</summary>
internal sealed record ReplayMoveResult(int Moved, long Files, long Bytes, int AlreadyStored, int Failed);

/// <summary>
/// <c>dotnet run --project src/Pasar.Server -- storage upload-replays</c> (ADR 0023): moves the replays recorded on
/// this node's disk before the object store was configured (MPEG-TS ones from before LL-HLS, and local CMAF ones)
/// into it. Per replay: every file its playlists name is uploaded, then the playlists (the master last, through the
/// uploader's own code), then SQL records it as stored, so <c>replayUrl</c> points at the store; only then is the
/// local folder deleted. A failure leaves that replay as it was (local, playing) and the command exits non-zero;
/// running it again moves what is left and counts what is already there.
/// </summary>
internal sealed class ReplayMover(RecordingStore store, Database db, IOptions<PasarOptions> pasar, TimeProvider time, ILogger<ReplayMover> logger)
{
    private const int Concurrency = 4;

    private readonly string _hlsRoot = Path.Combine(pasar.Value.FullDataDir, "hls");

    internal static async Task<int> RunCommandAsync(string[] args)
    {
        await using var app = PasarHost.Build(PasarHost.CommandArguments(args));
        await app.StartAsync();
        try
        {
            var mover = ActivatorUtilities.CreateInstance<ReplayMover>(app.Services);
            if (!mover.Configured)
            {
                Console.Error.WriteLine("The object store is not configured: set Pasar:Storage:S3:ServiceUrl (and its keys) to move replays into it.");
                return 1;
            }

            ReplayMoveResult result;
            try
            {
                result = await mover.MoveAllAsync(Console.Out, app.Lifetime.ApplicationStopping);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Console.Error.WriteLine($"The object store refused the move: {mover.Problem ?? ex.Message}");
                return 2;
            }

            Console.WriteLine($"Moved {result.Moved} replays ({result.Files} files, {result.Bytes / 1_000_000.0:F1} MB) into the object store; "
                + $"{result.AlreadyStored} already there; {result.Failed} failed.");
            return result.Failed > 0 ? 2 : 0;
        }
        finally
        {
            await app.StopAsync();
        }
    }

    public bool Configured => store.Enabled;

    public string? Problem => store.Problem;

    /// <summary>Every ended session with a replay on this disk and none in the store. Throws when the store refuses the credentials or the bucket.</summary>
    public async Task<ReplayMoveResult> MoveAllAsync(TextWriter output, CancellationToken ct)
    {
        await store.EnsureBucketAsync(ct);
        List<(string Id, string? UploadState, long? StoredAt)> sessions;
        await using (var c = await db.OpenAsync(ct))
        {
            sessions = [.. await c.QueryAsync<(string, string?, long?)>(new CommandDefinition(
                "SELECT id, upload_state, replay_stored_at FROM live_sessions WHERE status = @ended AND replay_pending = 0 ORDER BY id",
                new { ended = LiveStatus.Ended }, cancellationToken: ct))];
        }

        int moved = 0, already = 0, failed = 0;
        long files = 0, bytes = 0;
        foreach (var (id, uploadState, storedAt) in sessions)
        {
            var dir = Path.Combine(_hlsRoot, id);
            if (storedAt is not null)
            {
                already++;
                continue;
            }

            if (uploadState is not null || !File.Exists(Path.Combine(dir, HlsPackager.ReplayFile)))
            {
                continue; // recorded with the store configured (its node finishes the upload), or no replay on this disk
            }

            try
            {
                var (n, size) = await MoveAsync(id, dir, ct);
                moved++;
                files += n;
                bytes += size;
                await output.WriteLineAsync($"{id}: moved {n} files ({size / 1_000_000.0:F1} MB)");
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failed++;
                logger.LogError("Replay {SessionId}: moving it into the object store failed ({Error}); it stays on local disk", id, store.Problem ?? ex.Message);
                await output.WriteLineAsync($"{id}: failed ({store.Problem ?? ex.Message}); it stays on local disk and plays from there");
            }
        }

        return new ReplayMoveResult(moved, files, bytes, already, failed);
    }

    private async Task<(long Files, long Bytes)> MoveAsync(string id, string dir, CancellationToken ct)
    {
        var media = new List<(string Key, string Path)>();
        foreach (var renditionDir in Directory.EnumerateDirectories(dir).Order(StringComparer.Ordinal))
        {
            var playlist = Path.Combine(renditionDir, HlsPackager.ReplayFile);
            if (!File.Exists(playlist))
            {
                continue;
            }

            var rendition = Path.GetFileName(renditionDir);
            foreach (var file in MediaOf(await File.ReadAllTextAsync(playlist, ct)))
            {
                var path = Path.Combine(renditionDir, file);
                if (Path.GetDirectoryName(Path.GetFullPath(path)) != Path.GetFullPath(renditionDir))
                {
                    throw new InvalidDataException($"{rendition}/{HlsPackager.ReplayFile} names a file outside its folder: {file}");
                }

                var key = RecordingStore.SegmentKey(id, rendition, file);
                if (File.Exists(path))
                {
                    media.Add((key, path));
                }
                else if (!await store.ExistsAsync(key, ct))
                {
                    throw new FileNotFoundException($"{rendition}/{file} is named by the replay but is neither on disk nor in the store");
                }
            }
        }

        long bytes = 0;
        await Parallel.ForEachAsync(media, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = ct }, async (m, token) =>
        {
            await store.PutFileAsync(m.Key, m.Path, token);
            Interlocked.Add(ref bytes, new FileInfo(m.Path).Length);
        });

        await store.PutReplayPlaylistsAsync(id, dir, ct);
        await RecordingUploader.MarkStoredAsync(db, id, time.GetUtcNow(), ct);
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException ex)
        {
            // Stored and recorded as such: replayUrl already points at the store; the folder is only left over.
            logger.LogWarning("Replay {SessionId}: moved, but its local folder could not be deleted ({Error})", id, ex.Message);
        }

        return (media.Count, bytes);
    }

    /// <summary>The segments and init segments a media playlist names, each once, in order.</summary>
    internal static IEnumerable<string> MediaOf(string playlist)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in playlist.Split('\n'))
        {
            var line = raw.Trim();
            string? file = null;
            if (line.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal))
            {
                var start = line.IndexOf("URI=\"", StringComparison.Ordinal);
                if (start >= 0)
                {
                    start += 5;
                    file = line[start..line.IndexOf('"', start)];
                }
            }
            else if (line.Length > 0 && !line.StartsWith('#'))
            {
                file = line;
            }

            if (file is not null && seen.Add(file))
            {
                yield return file;
            }
        }
    }
}
