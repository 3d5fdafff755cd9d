namespace Pasar.Server.LiveRoom;

/// <summary>A chat message; <c>Role</c> is the sender's role in the session when sent: seller, moderator or viewer (SPEC §6.2).</summary>
public sealed record ChatMessage(string Id, string SessionId, string UserId, string UserName, string Text, DateTimeOffset SentAt, string Role = ChatRoles.Viewer);

public sealed record ChatDeleted(string SessionId, string MessageId);

public sealed record ChatSettings(int SlowModeSeconds, IReadOnlyList<string> BlockedWords);

internal sealed record ChatSettingsRequest(int? SlowModeSeconds, IReadOnlyList<string>? BlockedWords);

internal sealed record MuteRequest(string? UserId, int? DurationSeconds);

internal sealed record Mute(string SessionId, string UserId, DateTimeOffset Until);

/// <summary>The reactions a room got in one tick, pushed as <c>reactions</c> (SPEC §16).</summary>
public sealed record ReactionsUpdated(string SessionId, long Heart, long Like, long Fire, long Clap);

public sealed record ViewersUpdated(string SessionId, long Current, long Peak);

public sealed record PinnedProduct(string ProductId, string Title, long PriceMinor, string Currency, string? ImageUrl, DateTimeOffset PinnedAt);

public sealed record PinsUpdated(string SessionId, IReadOnlyList<PinnedProduct> Pinned);

internal sealed record PinRequest(string? ProductId);

public sealed record SessionStatusChanged(string SessionId, string Status);

public sealed record RoomSnapshot(
    object Session, IReadOnlyList<PinnedProduct> Pinned, LiveViewersSnapshot Viewers, object? ActiveFlashSale, IReadOnlyList<ChatMessage> RecentChat, string? ViewerToken,
    object? ActivePoll = null, object? ActiveGiveaway = null, IReadOnlyList<object>? ActiveVouchers = null, object? ActiveAuction = null);

public sealed record LiveViewersSnapshot(long Current, long Peak);

internal static class ChatErrors
{
    public const string RateLimited = "RATE_LIMITED";
    public const string Muted = "MUTED";
    public const string BlockedWord = "BLOCKED_WORD";
    public const string InvalidMessage = "INVALID_MESSAGE";
    public const string Unauthorized = "UNAUTHORIZED";
    public const string SessionNotFound = "SESSION_NOT_FOUND";
    public const string SessionEnded = "SESSION_ENDED";
}

internal sealed class ChatOptions
{
    /// <summary>Words refused in every room (<c>Pasar:Chat:BlockedWords</c>), beside each room's own.</summary>
    public List<string> BlockedWords { get; set; } = [];

    /// <summary>How often a room's accepted messages go out as one frame.</summary>
    public TimeSpan CoalesceTick { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Frames a connection may have waiting before it is dropped as a slow consumer.</summary>
    public int MaxPendingWrites { get; set; } = 64;
}

/// <summary>The live room's display limits (<c>Pasar:LiveRoom</c>).</summary>
internal sealed class LiveRoomOptions
{
    public const string Section = "Pasar:LiveRoom";

    /// <summary>Chat messages a second each viewer is shown of others' at most; past that the room gets a fair sample.</summary>
    public int MaxChatShownPerSecond { get; set; } = 30;
}
