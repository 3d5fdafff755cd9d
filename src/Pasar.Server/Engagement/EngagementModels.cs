namespace Pasar.Server.Engagement;

internal sealed record StartPollRequest(string? Question, IReadOnlyList<string?>? Options, int? DurationSeconds);

internal sealed record VoteRequest(int? Option);

public sealed record Poll(
    string Id, string SessionId, string Question, IReadOnlyList<string> Options, IReadOnlyList<long> Counts, long TotalVotes,
    DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status);

public sealed record PollUpdated(string Id, string SessionId, IReadOnlyList<long> Counts);

internal sealed record StartGiveawayRequest(long? PrizeCoins, int? Winners, int? DurationSeconds);

/// <summary>
/// A giveaway as anyone may see it. Before the draw <see cref="Seed"/>, <see cref="EntrantIds"/> and
/// <see cref="Winners"/> are null; after it they are what a verifier needs to recompute the draw.
/// </summary>
public sealed record Giveaway(
    string Id, string SessionId, string SellerId, long PrizeCoins, int WinnerCount, string SeedHash, int Entrants,
    DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status,
    string? Seed, IReadOnlyList<string>? EntrantIds, IReadOnlyList<string>? Winners, DateTimeOffset? DrawnAt);

public sealed record GiveawayDrawn(string Id, string SessionId, IReadOnlyList<string> Winners);

internal static class PollStatus
{
    public const string Open = "open";
    public const string Closed = "closed";
}

internal static class GiveawayStatus
{
    public const string Active = "active";
    public const string Drawn = "drawn";
}

internal sealed class PollRow
{
    public string Id { get; init; } = "";
    public string SessionId { get; init; } = "";
    public string Question { get; init; } = "";
    public string Options { get; init; } = "[]";
    public long TotalVotes { get; init; }
    public string Status { get; init; } = "";
    public long StartsAt { get; init; }
    public long EndsAt { get; init; }

    public const string Columns =
        "id AS Id, session_id AS SessionId, question AS Question, options AS Options, total_votes AS TotalVotes, status AS Status, starts_at AS StartsAt, ends_at AS EndsAt";

    public IReadOnlyList<string> OptionList() => System.Text.Json.JsonSerializer.Deserialize<string[]>(Options) ?? [];
}

internal sealed class GiveawayRow
{
    public string Id { get; init; } = "";
    public string SessionId { get; init; } = "";
    public string SellerId { get; init; } = "";
    public long PrizeCoins { get; init; }
    public long WinnerCount { get; init; }
    public string SeedHash { get; init; } = "";
    public string? RevealedSeed { get; init; }
    public long Entrants { get; init; }
    public string? WinnerIds { get; init; }
    public string Status { get; init; } = "";
    public long StartsAt { get; init; }
    public long EndsAt { get; init; }
    public long? DrawnAt { get; init; }

    public const string Columns =
        "id AS Id, session_id AS SessionId, seller_id AS SellerId, prize_coins AS PrizeCoins, winner_count AS WinnerCount, seed_hash AS SeedHash, revealed_seed AS RevealedSeed, entrants AS Entrants, winner_ids AS WinnerIds, status AS Status, starts_at AS StartsAt, ends_at AS EndsAt, drawn_at AS DrawnAt";
}
