"""Small vocabularies for the sample generator (Indian names, cities, pincodes, localities).

Everything here is a plain Python list or dict; the generator turns them into Spark array/map
literals and indexes them with hash-derived integers, so no row is ever touched on the driver.
"""
from __future__ import annotations

# Communities: (key, weight). A household belongs to one community; names and city follow it.
COMMUNITIES: list[tuple[str, float]] = [
    ("north", 0.30),
    ("west", 0.18),
    ("south", 0.22),
    ("muslim", 0.14),
    ("bengali", 0.10),
    ("sikh", 0.06),
]

SURNAMES: dict[str, list[str]] = {
    "north": ["Sharma", "Verma", "Gupta", "Agarwal", "Singh", "Yadav", "Mishra", "Pandey", "Tiwari",
              "Srivastava", "Chauhan", "Jain", "Saxena", "Kapoor", "Malhotra", "Chaudhary", "Rastogi",
              "Tripathi", "Dubey", "Khanna"],
    "west": ["Patil", "Deshmukh", "Joshi", "Kulkarni", "Patel", "Shah", "Mehta", "Desai", "Pawar",
             "Jadhav", "Gokhale", "Bhosale", "Modi", "Parekh", "Shinde", "Trivedi", "Thakkar"],
    "south": ["Iyer", "Iyengar", "Reddy", "Nair", "Menon", "Pillai", "Rao", "Naidu", "Krishnan",
              "Subramanian", "Raman", "Shetty", "Gowda", "Hegde", "Murthy", "Varghese", "Chandrasekhar"],
    "muslim": ["Khan", "Shaikh", "Ansari", "Qureshi", "Siddiqui", "Syed", "Pathan", "Mirza", "Hussain",
               "Sayyed", "Farooqui", "Chaudhary", "Rizvi"],
    "bengali": ["Banerjee", "Chatterjee", "Mukherjee", "Bhattacharya", "Ghosh", "Bose", "Das", "Sen",
                "Dutta", "Roy", "Chakraborty", "Sarkar", "Basu", "Ganguly"],
    "sikh": ["Singh", "Gill", "Sandhu", "Sidhu", "Dhillon", "Grewal", "Bajwa", "Ahluwalia", "Bedi",
             "Randhawa", "Sethi"],
}

MALE_NAMES: dict[str, list[str]] = {
    "north": ["Rahul", "Amit", "Rajesh", "Suresh", "Vikram", "Arjun", "Rohit", "Anil", "Sanjay",
              "Deepak", "Manoj", "Ankit", "Aditya", "Vivek", "Karan", "Ashok", "Naveen", "Gaurav"],
    "west": ["Sachin", "Rohan", "Nikhil", "Mahesh", "Pratik", "Hardik", "Chirag", "Jignesh", "Omkar",
             "Swapnil", "Kunal", "Amol", "Tushar", "Bhavesh"],
    "south": ["Srinivas", "Venkatesh", "Karthik", "Ramesh", "Suresh", "Prakash", "Arun", "Vijay",
              "Harish", "Balaji", "Ganesh", "Rajesh", "Naveen", "Murali", "Sathish", "Anand"],
    "muslim": ["Mohammed", "Imran", "Salman", "Faisal", "Arif", "Irfan", "Aamir", "Zaheer", "Tariq",
               "Sameer", "Asif", "Rizwan", "Abdul", "Yusuf"],
    "bengali": ["Sourav", "Arindam", "Subhash", "Debashis", "Anirban", "Partha", "Sandip", "Abhijit",
                "Tapas", "Indranil", "Sumit", "Joydeep"],
    "sikh": ["Gurpreet", "Harpreet", "Manpreet", "Jaspreet", "Harjeet", "Amarjeet", "Sukhwinder",
             "Baljeet", "Navjot", "Paramjit", "Kuldeep"],
}

FEMALE_NAMES: dict[str, list[str]] = {
    "north": ["Priya", "Pooja", "Neha", "Sunita", "Anjali", "Kavita", "Rekha", "Shweta", "Ritu",
              "Sneha", "Aarti", "Nisha", "Divya", "Kiran", "Meena", "Lakshmi", "Swati"],
    "west": ["Sneha", "Pallavi", "Snehal", "Komal", "Ashwini", "Hetal", "Khushboo", "Janhvi", "Rutuja",
             "Bhavna", "Priyanka", "Manisha", "Aarti"],
    "south": ["Lakshmi", "Meenakshi", "Divya", "Priya", "Kavya", "Anitha", "Sowmya", "Deepa", "Revathi",
              "Padma", "Shalini", "Bhavana", "Lavanya", "Kavitha"],
    "muslim": ["Fatima", "Ayesha", "Zainab", "Nazia", "Shabana", "Sana", "Farheen", "Rukhsar", "Heena",
               "Afreen", "Nasreen", "Shaheen"],
    "bengali": ["Moumita", "Sreya", "Rituparna", "Debjani", "Ananya", "Payel", "Mousumi", "Tanushree",
                "Sudeshna", "Rimpa", "Sharmila", "Paromita"],
    "sikh": ["Simran", "Harleen", "Jasleen", "Gurleen", "Navneet", "Manjeet", "Amrit", "Rupinder",
             "Jaspreet", "Harpreet"],
}

# Spelling / transliteration variants a till operator or agent might type.
NAME_VARIANTS: dict[str, list[str]] = {
    "Mohammed": ["Mohd", "Muhammad", "Mohammad", "Md"],
    "Lakshmi": ["Laxmi", "Luxmi"],
    "Srinivas": ["Shrinivas", "Sreenivas", "Srinivasa"],
    "Venkatesh": ["Venkatesha", "Venkatesan"],
    "Pooja": ["Puja"],
    "Aarti": ["Arti", "Aarthi"],
    "Sunita": ["Suneeta"],
    "Kavita": ["Kavitha"],
    "Kavitha": ["Kavita"],
    "Deepak": ["Dipak"],
    "Anitha": ["Anita"],
    "Sourav": ["Saurav", "Sourabh"],
    "Debashis": ["Debasish", "Debasis"],
    "Sandip": ["Sandeep"],
    "Gurpreet": ["Gurprit"],
    "Harpreet": ["Harprit"],
    "Fatima": ["Fathima", "Fatma"],
    "Ayesha": ["Aisha", "Ayisha"],
    "Yusuf": ["Yousuf", "Yusuff"],
    "Abdul": ["Abdool"],
    "Sathish": ["Satish"],
    "Murali": ["Murli"],
    "Meenakshi": ["Minakshi"],
    "Janhvi": ["Jahnavi"],
    "Bhavna": ["Bhavana"],
    "Chaudhary": ["Choudhary", "Chowdhury", "Chaudhari"],
    "Bhattacharya": ["Bhattacharjee", "Bhattacharyya"],
    "Agarwal": ["Aggarwal", "Agrawal"],
    "Shaikh": ["Sheikh", "Shaik"],
    "Qureshi": ["Kureshi", "Quraishi"],
    "Syed": ["Sayed", "Saiyed"],
    "Sayyed": ["Sayed", "Syed"],
    "Iyer": ["Aiyer"],
    "Mukherjee": ["Mukerji", "Mukherji"],
    "Chatterjee": ["Chaterjee", "Chatterji"],
    "Banerjee": ["Banerji"],
    "Srivastava": ["Shrivastava", "Srivastav"],
    "Chakraborty": ["Chakravarty", "Chakrabarti"],
    "Subramanian": ["Subramaniam"],
    "Hussain": ["Husain", "Hussein"],
    "Dhillon": ["Dhilon"],
    "Ahluwalia": ["Ahluwalliya"],
    "Kulkarni": ["Kulkarny"],
    "Reddy": ["Reddi"],
}

MALE_HONORIFICS = ["Mr", "Mr.", "Shri", "Sri"]
FEMALE_HONORIFICS = ["Mrs", "Mrs.", "Smt", "Smt.", "Ms", "Kumari"]

# City: (name, store code, first pincode, last pincode, localities)
CITIES: list[tuple[str, str, int, int, list[str]]] = [
    ("Mumbai", "MUM", 400001, 400104, ["Andheri West", "Borivali East", "Dadar", "Powai", "Bandra West",
                                       "Malad West", "Chembur", "Ghatkopar East"]),
    ("Delhi", "DEL", 110001, 110096, ["Karol Bagh", "Lajpat Nagar", "Rohini Sector 9", "Dwarka Sector 12",
                                      "Mayur Vihar Phase 1", "Janakpuri", "Saket"]),
    ("Bengaluru", "BLR", 560001, 560103, ["Koramangala", "Indiranagar", "Jayanagar 4th Block",
                                          "Whitefield", "HSR Layout", "Malleshwaram", "BTM Layout"]),
    ("Chennai", "MAA", 600001, 600119, ["T. Nagar", "Adyar", "Anna Nagar", "Velachery", "Mylapore",
                                        "Tambaram", "Porur"]),
    ("Kolkata", "CCU", 700001, 700156, ["Salt Lake Sector V", "Behala", "Ballygunge", "Dum Dum",
                                        "New Town", "Gariahat", "Tollygunge"]),
    ("Hyderabad", "HYD", 500001, 500098, ["Banjara Hills", "Kukatpally", "Gachibowli", "Madhapur",
                                          "Secunderabad", "Ameerpet", "Dilsukhnagar"]),
    ("Pune", "PNQ", 411001, 411062, ["Kothrud", "Aundh", "Hadapsar", "Viman Nagar", "Baner",
                                     "Shivaji Nagar", "Wakad"]),
    ("Ahmedabad", "AMD", 380001, 380061, ["Navrangpura", "Satellite", "Maninagar", "Bopal",
                                          "Vastrapur", "Paldi", "Chandkheda"]),
]

# Which cities a household of each community lives in (repetition = weight).
COMMUNITY_CITIES: dict[str, list[str]] = {
    "north": ["Delhi"] * 6 + ["Mumbai", "Mumbai", "Pune", "Bengaluru", "Ahmedabad", "Kolkata", "Hyderabad"],
    "west": ["Mumbai"] * 5 + ["Pune"] * 4 + ["Ahmedabad"] * 4 + ["Bengaluru", "Delhi"],
    "south": ["Bengaluru"] * 5 + ["Chennai"] * 5 + ["Hyderabad"] * 4 + ["Mumbai", "Pune"],
    "muslim": ["Hyderabad"] * 3 + ["Mumbai"] * 3 + ["Delhi"] * 2 + ["Kolkata", "Bengaluru", "Ahmedabad",
                                                                      "Chennai", "Pune"],
    "bengali": ["Kolkata"] * 8 + ["Delhi", "Bengaluru", "Mumbai", "Pune"],
    "sikh": ["Delhi"] * 6 + ["Mumbai", "Pune", "Bengaluru", "Kolkata"],
}

BUILDINGS = ["Sai Krupa Apartments", "Shanti Niwas", "Green Valley CHS", "Lakshmi Residency",
             "Royal Palms", "Sunshine Towers", "Ganga Heights", "Om Sai Society", "Prestige Lakeside",
             "Al-Noor Manzil", "Gurukripa Bhavan", "Tulip Enclave", "Skyline Greens", "Shree Ganesh Complex"]
STREETS = ["MG Road", "Station Road", "Link Road", "Nehru Marg", "Gandhi Nagar Main Road", "Temple Street",
           "1st Cross", "2nd Main", "Ring Road", "Church Street", "Market Road", "Lake View Road"]

EMAIL_DOMAINS = (["gmail.com"] * 10 + ["yahoo.co.in"] * 2 + ["yahoo.com", "rediffmail.com", "rediffmail.com",
                 "hotmail.com", "outlook.com"]
                 + ["tcs.com", "infosys.com", "wipro.com", "hcltech.com", "icicibank.com"])

CALL_REASONS = ["Order status", "Refund query", "Return request", "Loyalty points", "Product complaint",
                "Delivery delay", "Address change", "Store feedback", "Payment failed", "Exchange request"]
WEB_PAGES = ["/", "/offers", "/c/mens-wear", "/c/womens-ethnic", "/c/kids", "/c/home-kitchen",
             "/c/electronics", "/p/kurta-set-cotton", "/p/basmati-rice-5kg", "/p/pressure-cooker-5l",
             "/p/smartphone-128gb", "/cart", "/checkout", "/account", "/store-locator"]
WEB_EVENT_TYPES = ["page_view"] * 6 + ["product_view"] * 3 + ["add_to_cart", "search"]
APP_EVENTS = ["app_open"] * 5 + ["product_view"] * 4 + ["add_to_cart"] * 2 + ["search", "purchase",
                                                                             "wishlist_add"]
WA_TYPES = ["text"] * 6 + ["image", "button", "interactive", "interactive", "location", "document"]
WA_TEXTS = ["Hi", "Order status?", "Is this available in XL?", "Thank you", "Please share the bill",
            "When will it be delivered?", "Namaste, store timings?", "Need to return this", "ok",
            "Any offers this Diwali?"]
WA_EMOJI = ["\U0001F338", "\U0001F64F", "\u2728", "\U0001F60A", "\U0001F33A"]
EMAIL_CAMPAIGNS = ["DIWALI24", "EOSS_JAN", "HOLI24", "INDEP_DAY", "NEW_ARRIVALS", "LOYALTY_BONUS",
                   "MONSOON_SALE", "REPUBLIC_DAY25", "WEEKEND_DEALS"]
PAYMENT_MODES = ["UPI", "UPI", "UPI", "COD", "Card", "Card", "NetBanking", "Wallet"]
APP_OS = ["Android"] * 8 + ["iOS"] * 2
PLACEHOLDER_PHONES = ["9999999999", "0000000000", "1234567890"]
