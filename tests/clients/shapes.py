"""The structured-output shape the client tests ask for, and what the scripted agent answers
(tests/clients/agent.py ``sample``: "sample <name>" strings, 42, 1.5, true, one-item arrays, the
first enum value), written out by hand so a wrong generator or a lost field shows."""

from typing import Literal

from pydantic import BaseModel


class Address(BaseModel):
    city: str
    zip_code: str


class Person(BaseModel):
    name: str
    age: int
    height_m: float
    member: bool
    tags: list[str]
    color: Literal["red", "green", "blue"]
    address: Address


EXPECTED = Person(
    name="sample name", age=42, height_m=1.5, member=True, tags=["sample tags"], color="red",
    address=Address(city="sample city", zip_code="sample zip_code"),
)

PROMPT = "Describe a person."
FILE_PROMPT = "create hello.txt containing hi"
