"""Sets up and inspects an Auto Scaling group on a local moto server for alv's cloud-group tests.

  moto_group.py create ENDPOINT GROUP      launch template + group (min 0, max 10, desired 0)
  moto_group.py states ENDPOINT ID...      prints "ID STATE" per EC2 instance
"""
import sys

import boto3


def client(kind, endpoint):
    return boto3.client(kind, endpoint_url=endpoint, region_name="eu-west-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def main():
    action, endpoint = sys.argv[1], sys.argv[2]
    ec2 = client("ec2", endpoint)
    if action == "create":
        group = sys.argv[3]
        image = ec2.describe_images()["Images"][0]["ImageId"]
        ec2.create_launch_template(LaunchTemplateName=group + "-lt",
                                   LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"})
        client("autoscaling", endpoint).create_auto_scaling_group(
            AutoScalingGroupName=group, LaunchTemplate={"LaunchTemplateName": group + "-lt"},
            MinSize=0, MaxSize=10, DesiredCapacity=0, AvailabilityZones=["eu-west-1a"])
        print("ok")
    elif action == "states":
        ids = sys.argv[3:]
        if ids:
            for reservation in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
                for instance in reservation["Instances"]:
                    print(instance["InstanceId"], instance["State"]["Name"])
    else:
        sys.exit("unknown action " + action)


main()
