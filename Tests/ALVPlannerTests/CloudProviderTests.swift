import ALVCloud
import ALVModel
import ALVTesting
import Foundation
import Testing

/// The parts of the cloud launchers that need no provider: the Query API's XML, the credential chain and
/// the hosts file's instance-group entries.
struct CloudProviderTests {
    @Test func queryAnswersAndErrorsParse() throws {
        let answer = """
            <?xml version="1.0" encoding="UTF-8"?>
            <DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">
              <DescribeAutoScalingGroupsResult><AutoScalingGroups><member>
                <AutoScalingGroupName>alv &amp; co</AutoScalingGroupName><DesiredCapacity>2</DesiredCapacity>
                <Instances><member><InstanceId>i-1</InstanceId><LifecycleState>InService</LifecycleState></member>
                <member><InstanceId>i-2</InstanceId><LifecycleState>Pending</LifecycleState><Empty/></member></Instances>
              </member></AutoScalingGroups></DescribeAutoScalingGroupsResult>
              <!-- a comment with <tags> --><Note><![CDATA[a <raw> & text]]></Note><Ref>&#65;&#x42;</Ref>
            </DescribeAutoScalingGroupsResponse>
            """
        let root = try #require(XMLElement.parse(answer))
        let group = try #require(root.at("DescribeAutoScalingGroupsResult", "AutoScalingGroups")?.all("member").first)
        #expect(group["AutoScalingGroupName"]?.text == "alv & co")
        #expect(group["Instances"]?.all("member").compactMap { $0["InstanceId"]?.text } == ["i-1", "i-2"])
        #expect(root["Note"]?.text == "a <raw> & text" && root["Ref"]?.text == "AB")
        let error = try #require(XMLElement.parse("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"))
        #expect(error.at("Error", "Code")?.text == "Throttling")
        for broken in ["", "<a><b></a>", "<a>", "plain text", "<a></a><b></b>", String(repeating: "<a>", count: 300) + String(repeating: "</a>", count: 300)] {
            #expect(XMLElement.parse(broken) == nil, "\(broken.prefix(20))")
        }
    }

    @Test func credentialsComeFromTheEnvironmentThenTheNamedProfile() throws {
        let directory = TemporaryDirectory("alv-aws")
        let file = directory.write("credentials", "# comment\n[default]\naws_access_key_id = AK1\naws_secret_access_key = S1\n\n[profile ci]\nAWS_ACCESS_KEY_ID=AK2\naws_secret_access_key=S2\naws_session_token = T2\n")
        let env = ["AWS_SHARED_CREDENTIALS_FILE": file]
        #expect(try AWSCredentials.resolve(profile: nil, environment: env).accessKeyID == "AK1")
        let ci = try AWSCredentials.resolve(profile: "ci", environment: env)
        #expect(ci.accessKeyID == "AK2" && ci.secretAccessKey == "S2" && ci.sessionToken == "T2")
        #expect(try AWSCredentials.resolve(profile: nil, environment: env.merging(["AWS_PROFILE": "ci"]) { $1 }).accessKeyID == "AK2")
        #expect(try AWSCredentials.resolve(profile: "ci", environment: env.merging(["AWS_ACCESS_KEY_ID": "E", "AWS_SECRET_ACCESS_KEY": "ES"]) { $1 }).accessKeyID == "E")
        #expect(throws: AWSCredentials.Missing.self) { try AWSCredentials.resolve(profile: "nope", environment: env) }
        do {
            _ = try AWSCredentials.resolve(profile: "nope", environment: env)
        } catch {
            #expect(error.description.contains("[nope]") && error.description.contains("[ci], [default]"), "\(error)")
        }
        #expect(throws: AWSCredentials.Missing.self) { try AWSCredentials.resolve(profile: nil, environment: ["AWS_SHARED_CREDENTIALS_FILE": directory.file("missing")]) }
    }

    @Test func instanceGroupEntriesAreCheckedWithTheirPaths() throws {
        let good = #"""
            {"broker_address": "10.0.0.5", "broker_key": "broker.key", "broker_ports": {"work": 7001, "metrics": 7002, "control": 7003, "enrol": 7004},
             "hosts": [{"host": "local", "max_workers": 2},
                       {"kind": "aws-asg", "name": "fleet", "group": "alv-workers", "region": "eu-west-1", "workers_per_instance": 2, "max_instances": 20, "instance_cost_per_hour": 0.0416, "poll_sec": 2},
                       {"kind": "command", "name": "gcp", "workers_per_instance": 4, "max_instances": 5, "scale_to": ["gcloud", "resize", "--size", "{{instances}}"], "list": ["gcloud", "list"]}]}
            """#
        let file = try #require(HostsFileValidator.validate(Array(good.utf8), file: "hosts.json").model)
        #expect(file.hosts.count == 1 && file.groups.map(\.name) == ["fleet", "gcp"])
        #expect(file.groups[0].provider == .awsAutoScaling(group: "alv-workers", region: "eu-west-1", endpoint: nil, profile: nil))
        #expect(file.groups[0].costPerInstanceHour == 0.0416 && file.groups[0].pollSeconds == 2 && file.groups[1].pollSeconds == nil && file.brokerPorts?.enrol == 7004)
        let bad = #"""
            {"hosts": [{"kind": "aws-asg", "name": "fleet", "region": "EU West", "workers_per_instance": 0, "max_instances": 2, "poll_sec": 0.1},
                       {"kind": "command", "name": "gcp", "workers_per_instance": 1, "max_instances": 1, "scale_to": ["resize"], "list": "gcloud list"},
                       {"kind": "gke", "name": "x"}]}
            """#
        let result = HostsFileValidator.validate(Array(bad.utf8), file: "hosts.json")
        #expect(result.model == nil)
        let text = result.diagnostics.map(\.description).joined(separator: "\n")
        for expected in ["hosts[0].group", "hosts[0].region", "hosts[0].poll_sec", "hosts[0].workers_per_instance", "hosts[1].scale_to", "{{instances}}", "hosts[1].list", "hosts[2].kind"] {
            #expect(text.contains(expected), "\(expected) in\n\(text)")
        }
        // A good group still needs the broker's address and key, which its user data carries.
        let keyless = #"{"hosts": [{"kind": "aws-asg", "name": "fleet", "group": "g", "region": "eu-west-1", "workers_per_instance": 1, "max_instances": 2}]}"#
        let missing = HostsFileValidator.validate(Array(keyless.utf8), file: "hosts.json").diagnostics.map(\.description).joined(separator: "\n")
        #expect(missing.contains("broker_address") && missing.contains("broker_key") && missing.contains("alv keys generate"), "\(missing)")
    }
}
