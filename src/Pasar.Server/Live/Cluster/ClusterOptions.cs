namespace Pasar.Server.Live.Cluster;

/// <summary>The <c>Pasar:Cluster</c> section: how the nodes of one deployment reach each other (SPEC §12).</summary>
internal sealed class ClusterOptions
{
    public const string Section = "Pasar:Cluster";

    /// <summary>
    /// The base URL other nodes use to reach this node's HTTP API (for forwarding live playback to the node that
    /// ingests a show). Empty: the first HTTP address Kestrel bound, with a wildcard host replaced by this machine's
    /// host name.
    /// </summary>
    public string InternalUrl { get; set; } = "";
}
